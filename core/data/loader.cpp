// The prepared-data loader: a producer thread fills a small queue of ready batches; each batch
// carries the stream position after it, so state() is exactly where the consumer stands.
#include "core/data/loader.h"

#include <algorithm>
#include <condition_variable>
#include <deque>
#include <mutex>
#include <optional>
#include <thread>

#include "core/common/error.h"

namespace gpas {

namespace {

uint64_t mix64(uint64_t x) {
  x += 0x9e3779b97f4a7c15ull;
  x = (x ^ (x >> 30)) * 0xbf58476d1ce4e5b9ull;
  x = (x ^ (x >> 27)) * 0x94d049bb133111ebull;
  return x ^ (x >> 31);
}

// Where a stream stands: the next batch, and for pack mode the token cursor in the shuffled,
// concatenated documents at the start of that batch.
struct Cursor {
  uint64_t batch = 0, epoch = 0, pos = 0, offset = 0;
  int64_t served = 0;  // eval: loss tokens of all ranks so far
  bool end = false;
  nlohmann::json to_json() const {
    return {{"batch", batch}, {"epoch", epoch}, {"pos", pos}, {"offset", offset},
            {"served", served}, {"end", end}};
  }
  static Cursor from_json(const nlohmann::json& j) {
    Cursor c;
    c.batch = j.at("batch").get<uint64_t>();
    c.epoch = j.at("epoch").get<uint64_t>();
    c.pos = j.at("pos").get<uint64_t>();
    c.offset = j.at("offset").get<uint64_t>();
    c.served = j.at("served").get<int64_t>();
    c.end = j.at("end").get<bool>();
    return c;
  }
};

struct Item {
  TokenBatch batch;
  bool ok = true;
  nlohmann::json state_after;
};

class PreparedStream : public BatchSource {
 public:
  PreparedStream(std::shared_ptr<PreparedData> d, const LoaderOptions& o, const StreamSpec& s)
      : d_(std::move(d)), o_(o), spec_(s), n_(d_->docs(o.split)) {
    if (o.mode != "pad" && o.mode != "pack")
      throw Error("data.mode: '" + o.mode + "' is not pad or pack");
    if (s.micro_batch < 1 || s.seq_len < 2 || s.world < 1 || s.rank < 0 || s.rank >= s.world)
      throw Error("data stream: need micro_batch >= 1, seq_len >= 2 and 0 <= rank < world");
    if (n_ == 0)
      throw Error(d_->dir() + ": the " + std::string(split_name(o.split)) +
                  " split is empty; prepare with --val-fraction > 0 or with validation files");
    pack_ = o.mode == "pack";
    consumed_ = prod_.to_json();
    start();
  }
  ~PreparedStream() override { stop(); }

  bool next(TokenBatch& out) override {
    if (o_.prefetch <= 0) {
      Item it = produce();
      consumed_ = it.state_after;
      if (it.ok) out = std::move(it.batch);
      return it.ok;
    }
    std::unique_lock<std::mutex> l(mu_);
    cv_.wait(l, [this] { return !queue_.empty() || error_; });
    if (queue_.empty() && error_) std::rethrow_exception(error_);
    Item it = std::move(queue_.front());
    queue_.pop_front();
    cv_.notify_all();
    consumed_ = it.state_after;
    if (!it.ok) {
      queue_.push_front(it);  // an ended stream stays ended
      return false;
    }
    out = std::move(it.batch);
    return true;
  }

  nlohmann::json state() const override {
    std::lock_guard<std::mutex> g(mu_);
    nlohmann::json s = consumed_;
    s["mode"] = o_.mode;
    s["docs"] = n_;
    return s;
  }

  void restore(const nlohmann::json& s) override {
    if (s.value("mode", o_.mode) != o_.mode || s.value("docs", n_) != n_)
      throw Error("data state: the checkpoint was written for another data mode or prepared "
                  "directory (" + s.dump() + ")");
    stop();
    prod_ = Cursor::from_json(s);
    consumed_ = prod_.to_json();
    queue_.clear();
    error_ = nullptr;
    start();
  }

  int64_t vocab_size() const override { return d_->vocab_size(); }

 private:
  Permutation perm(uint64_t epoch) const {
    return Permutation(uint64_t(n_), mix64(o_.seed) ^ mix64(epoch + 0x51ed));
  }

  // pad: global row g -> one document, truncated to seq_len with EOS kept, right-padded.
  void pad_row(uint64_t g, int32_t* in, int32_t* tg, int64_t* loss) {
    const int64_t T = spec_.seq_len;
    std::fill(in, in + T, d_->pad_id());
    std::fill(tg, tg + T, -1);
    if (o_.eval && g >= uint64_t(n_)) return;
    uint64_t doc = perm(g / uint64_t(n_))(g % uint64_t(n_));
    int64_t len = d_->doc_len(o_.split, int64_t(doc));
    int64_t n = std::min(len, T);
    d_->copy(o_.split, int64_t(doc), 0, n, in);
    if (len > T) in[T - 1] = d_->eos_id();
    for (int64_t t = 0; t + 1 < n; ++t) tg[t] = in[t + 1];
    *loss += n - 1;
  }

  // pack: moves the cursor n tokens on; returns how many it moved (less at the end of eval).
  int64_t advance(Cursor& c, int64_t n) {
    int64_t moved = 0;
    while (n > 0 && !c.end) {
      if (c.epoch != perm_epoch_) perm_ = perm(perm_epoch_ = c.epoch);
      int64_t len = d_->doc_len(o_.split, int64_t((*perm_)(c.pos)));
      int64_t left = len - int64_t(c.offset);
      if (n < left) {
        c.offset += uint64_t(n);
        moved += n;
        return moved;
      }
      n -= left;
      moved += left;
      c.offset = 0;
      if (++c.pos == uint64_t(n_)) {
        c.pos = 0;
        if (o_.eval) c.end = true;
        else ++c.epoch;
      }
    }
    return moved;
  }

  void pack_row(Cursor c, int32_t* in, int32_t* tg, int64_t* loss) {
    const int64_t T = spec_.seq_len;
    window_.assign(T + 1, -1);
    for (int64_t k = 0; k <= T && !c.end;) {
      if (c.epoch != perm_epoch_) perm_ = perm(perm_epoch_ = c.epoch);
      int64_t doc = int64_t((*perm_)(c.pos));
      int64_t take = std::min(d_->doc_len(o_.split, doc) - int64_t(c.offset), T + 1 - k);
      d_->copy(o_.split, doc, int64_t(c.offset), take, window_.data() + k);
      k += take;
      advance(c, take);
    }
    for (int64_t t = 0; t < T; ++t) {
      in[t] = window_[t] >= 0 ? window_[t] : d_->pad_id();
      tg[t] = window_[t] >= 0 ? window_[t + 1] : -1;
      *loss += tg[t] >= 0;
    }
  }

  Item produce() {
    Item it;
    Cursor& c = prod_;
    const int64_t B = spec_.micro_batch, T = spec_.seq_len;
    const uint64_t rows_global = uint64_t(B) * spec_.world;
    bool over_budget = o_.eval && spec_.token_budget > 0 && c.served >= spec_.token_budget;
    if (c.end || over_budget || (o_.eval && !pack_ && c.batch * rows_global >= uint64_t(n_))) {
      c.end = true;
      it.ok = false;
      it.state_after = c.to_json();
      return it;
    }
    TokenBatch& b = it.batch;
    b.rows = B;
    b.seq = T;
    b.inputs.resize(B * T);
    b.targets.resize(B * T);
    int64_t own = 0;
    for (uint64_t j = 0; j < rows_global; ++j) {
      int r = int(j / uint64_t(B));
      int64_t i = int64_t(j % uint64_t(B));
      bool mine = r == spec_.rank;
      if (!pack_) {
        uint64_t g = c.batch * rows_global + j;
        if (mine) pad_row(g, &b.inputs[i * T], &b.targets[i * T], &own);
        else if (o_.eval && g < uint64_t(n_))
          c.served += std::min(d_->doc_len(o_.split, int64_t(perm(0)(g))), T) - 1;
      } else {
        if (mine) pack_row(c, &b.inputs[i * T], &b.targets[i * T], &own);
        int64_t moved = advance(c, T);
        if (!mine && o_.eval) c.served += moved;
      }
    }
    c.served += own;
    ++c.batch;
    it.state_after = c.to_json();
    return it;
  }

  void start() {
    if (o_.prefetch <= 0) return;
    stop_ = false;
    worker_ = std::thread([this] {
      try {
        while (true) {
          Item it = produce();
          std::unique_lock<std::mutex> l(mu_);
          cv_.wait(l, [this] { return stop_ || int(queue_.size()) < o_.prefetch; });
          if (stop_) return;
          bool ok = it.ok;
          queue_.push_back(std::move(it));
          cv_.notify_all();
          if (!ok) return;
        }
      } catch (...) {
        std::lock_guard<std::mutex> g(mu_);
        error_ = std::current_exception();
        cv_.notify_all();
      }
    });
  }

  void stop() {
    {
      std::lock_guard<std::mutex> g(mu_);
      stop_ = true;
    }
    cv_.notify_all();
    if (worker_.joinable()) worker_.join();
  }

  std::shared_ptr<PreparedData> d_;
  LoaderOptions o_;
  StreamSpec spec_;
  int64_t n_;
  bool pack_ = false;
  Cursor prod_;                    // the producer's position (owned by the worker thread)
  nlohmann::json consumed_;        // position after the last batch handed out
  std::optional<Permutation> perm_;
  uint64_t perm_epoch_ = ~0ull;
  std::vector<int32_t> window_;
  std::deque<Item> queue_;
  mutable std::mutex mu_;
  std::condition_variable cv_;
  std::thread worker_;
  bool stop_ = false;
  std::exception_ptr error_;
};

}  // namespace

Permutation::Permutation(uint64_t n, uint64_t seed) : n_(n), seed_(seed) {
  int bits = 2;
  while (bits < 64 && (1ull << bits) < n) ++bits;
  half_ = (bits + 1) / 2;
  mask_ = (1ull << half_) - 1;
}

uint64_t Permutation::operator()(uint64_t i) const {
  uint64_t x = i;
  do {  // cycle walking: re-encrypt until the value falls inside [0, n)
    uint64_t l = x >> half_, r = x & mask_;
    for (int round = 0; round < 4; ++round) {
      uint64_t f = mix64(r ^ mix64(seed_ + uint64_t(round))) & mask_;
      uint64_t nl = r;
      r = l ^ f;
      l = nl;
    }
    x = (l << half_) | r;
  } while (x >= n_);
  return x;
}

std::unique_ptr<BatchSource> make_prepared_stream(std::shared_ptr<PreparedData> data,
                                                  const LoaderOptions& opts,
                                                  const StreamSpec& spec) {
  return std::make_unique<PreparedStream>(std::move(data), opts, spec);
}

}  // namespace gpas
