// `gpas data prepare`: streams the corpus file by file, tokenises chunks of documents on a thread
// pool while the next chunk is read, and writes parts (the unit of resuming) then the manifest,
// last and atomically. Leaves out reading the result (prepared.cpp) and batching (loader.cpp).
#include <cstdio>
#include <filesystem>

#include <unistd.h>

#include "core/common/error.h"
#include "core/common/fs.h"
#include "core/common/hash.h"
#include "core/data/prepared.h"
#include "core/data/progress.h"
#include "core/data/thread_pool.h"
#include "core/data/tokenizer.h"

namespace gpas {

namespace {

namespace fs = std::filesystem;

uint64_t mix64(uint64_t x) {  // splitmix64's finaliser
  x += 0x9e3779b97f4a7c15ull;
  x = (x ^ (x >> 30)) * 0xbf58476d1ce4e5b9ull;
  x = (x ^ (x >> 27)) * 0x94d049bb133111ebull;
  return x ^ (x >> 31);
}

uint64_t fnv1a(const std::string& s) {
  uint64_t h = 1469598103934665603ull;
  for (unsigned char c : s) h = (h ^ c) * 1099511628211ull;
  return h;
}

// One output file of a part: tokens appended through a stdio buffer, offsets kept in memory.
class SplitWriter {
 public:
  SplitWriter(const std::string& base, bool u16) : base_(base), u16_(u16) {
    bin_ = std::fopen((base + ".bin").c_str(), "wb");
    if (!bin_) throw Error(base + ".bin: cannot create");
    offsets_.push_back(0);
  }
  ~SplitWriter() {
    if (bin_) std::fclose(bin_);
  }
  void add(const std::vector<int32_t>& t) {
    if (u16_) {
      tmp16_.assign(t.begin(), t.end());
      std::fwrite(tmp16_.data(), 2, tmp16_.size(), bin_);
    } else {
      std::fwrite(t.data(), 4, t.size(), bin_);
    }
    offsets_.push_back(offsets_.back() + t.size());
  }
  nlohmann::json close() {
    bool ok = std::fflush(bin_) == 0 && ::fsync(fileno(bin_)) == 0;
    ok = std::fclose(bin_) == 0 && ok;
    bin_ = nullptr;
    if (!ok) throw Error(base_ + ".bin: write failed (disk full?)");
    std::string idx(reinterpret_cast<const char*>(offsets_.data()), offsets_.size() * 8);
    write_file_atomic(base_ + ".idx", idx);
    return {{"docs", int64_t(offsets_.size() - 1)}, {"tokens", int64_t(offsets_.back())}};
  }

 private:
  std::string base_;
  bool u16_;
  std::FILE* bin_ = nullptr;
  std::vector<uint64_t> offsets_;
  std::vector<uint16_t> tmp16_;
};

struct Chunk {
  std::vector<RawDoc> raw;
  std::vector<int> file;  // index into the corpus files
  std::vector<std::vector<int32_t>> tokens;
  std::vector<uint8_t> val;
  std::vector<std::string> error;
  size_t bytes = 0;
};

struct Context {
  const PrepareOptions& o;
  const std::vector<CorpusFile>& files;
  const Tokenizer& tok;
  bool by_files;  // split from file names (C4) instead of a hash of each document
};

void tokenise(const Context& c, Chunk& ch, size_t begin, size_t end) {
  std::string text, why;
  for (size_t i = begin; i < end; ++i) {
    const CorpusFile& f = c.files[ch.file[i]];
    if (!doc_text(ch.raw[i], f.format, c.o.corpus_opts.text_field, text, why)) {
      ch.error[i] = at(f.path, static_cast<int>(ch.raw[i].line), why);
      continue;
    }
    auto t = c.tok.encode_doc(text);
    if (c.o.seq_len > 0 && int64_t(t.size()) > c.o.seq_len) {
      t.resize(c.o.seq_len);
      t.back() = c.tok.eos_id();
    }
    ch.tokens[i] = std::move(t);
    if (c.by_files) {
      ch.val[i] = f.split == SplitHint::kValidation;
    } else {
      uint64_t h = mix64(fnv1a(f.rel) ^ mix64(uint64_t(ch.raw[i].line) + uint64_t(c.o.split_seed)));
      ch.val[i] = double(h >> 11) * 0x1.0p-53 < c.o.val_fraction;
    }
  }
}

std::string options_key(const PrepareOptions& o, const std::string& tok_sha,
                        const std::vector<CorpusFile>& files) {
  Sha256 h;
  h.update(std::string(kPreparedFormat) + "\n" + tok_sha + "\n" + std::to_string(o.seq_len) +
           "\n" + std::to_string(o.val_fraction) + "\n" + std::to_string(o.split_seed) + "\n" +
           o.corpus_opts.text_field + "\n" +
           (o.corpus_opts.doc_mode == DocMode::kFile ? "file" : "paragraph") + "\n" +
           (o.corpus_opts.skip_bad_lines ? "skip" : "strict") + "\n" + std::to_string(o.part_bytes));
  for (const auto& f : files) h.update("\n" + f.rel + "\t" + std::to_string(f.size));
  return h.hex();
}

}  // namespace

PrepareResult prepare_corpus(const PrepareOptions& o) {
  double t0 = now_seconds();
  if (o.out.empty()) throw Error("no output directory (--out DIR)", kExitUsage);
  if (o.val_fraction < 0 || o.val_fraction >= 1)
    throw Error("--val-fraction must be in [0, 1)", kExitUsage);
  auto files = list_corpus(o.corpus);
  Tokenizer tok = Tokenizer::load(o.tokenizer);
  const std::string key = options_key(o, tok.sha256(), files);
  const std::string mpath = o.out + "/manifest.json";
  PrepareResult res;
  if (path_exists(mpath)) {
    auto old = nlohmann::json::parse(read_file(mpath), nullptr, false);
    if (!old.is_discarded() && old.value("key", "") == key) {
      res.manifest = old;
      res.already_complete = true;
      return res;
    }
    if (!o.force)
      throw Error(o.out + ": already holds prepared data made from other inputs or options; "
                  "choose another --out or pass --force to replace it");
    fs::remove(mpath);
    fs::remove_all(o.out + "/parts");
  }
  make_dirs(o.out + "/parts");
  write_file_atomic(o.out + "/tokenizer.model", read_file(o.tokenizer));

  bool by_files = false;
  uint64_t total_bytes = 0;
  for (const auto& f : files) {
    by_files |= f.split == SplitHint::kValidation;
    total_bytes += f.size;
  }
  const bool u16 = tok.vocab_size() <= 65536;
  Context ctx{o, files, tok, by_files};
  ThreadPool pool(o.threads);
  ProgressBar bar("prepare", total_bytes, o.progress);

  nlohmann::json parts = nlohmann::json::array();
  int64_t counts[2][2] = {{0, 0}, {0, 0}}, skipped = 0;
  uint64_t bytes_before = 0;
  size_t fi = 0;
  for (int part_no = 0; fi < files.size(); ++part_no) {
    // Files [fi, fj) form this part: at least one, then up to part_bytes of source.
    size_t fj = fi;
    uint64_t part_bytes = 0;
    nlohmann::json part_files = nlohmann::json::array();
    while (fj < files.size() && (fj == fi || part_bytes + files[fj].size <= o.part_bytes)) {
      part_bytes += files[fj].size;
      part_files.push_back({{"path", files[fj].rel}, {"size", files[fj].size}});
      ++fj;
    }
    char name[32];
    std::snprintf(name, sizeof(name), "part-%05d", part_no);
    const std::string base = o.out + "/parts/" + name;
    nlohmann::json marker;
    if (path_exists(base + ".json")) {
      marker = nlohmann::json::parse(read_file(base + ".json"), nullptr, false);
      if (marker.is_discarded() || marker.value("key", "") != key || marker["files"] != part_files)
        marker = nlohmann::json();
    }
    if (marker.is_null()) {
      SplitWriter w[2] = {SplitWriter(base + ".train", u16), SplitWriter(base + ".val", u16)};
      int64_t part_skipped = 0, docs = 0, toks = 0;
      auto flush = [&](Chunk& ch) {
        for (size_t i = 0; i < ch.raw.size(); ++i) {
          if (!ch.error[i].empty()) {
            if (!o.corpus_opts.skip_bad_lines)
              throw Error(ch.error[i] + "; --skip-bad-lines skips such lines");
            ++part_skipped;
          } else if (ch.tokens[i].size() > 1) {  // more than EOS: empty documents are dropped
            w[ch.val[i]].add(ch.tokens[i]);
            ++docs;
            toks += int64_t(ch.tokens[i].size());
          }
        }
      };
      Chunk cur, next;
      std::vector<std::future<void>> running;
      // If reading throws while a chunk is being tokenised, its tasks must finish before `cur`
      // goes away: this guard, declared after them, waits first.
      struct Drain {
        std::vector<std::future<void>>& tasks;
        ~Drain() {
          for (auto& f : tasks)
            if (f.valid()) f.wait();
        }
      } drain{running};
      auto launch = [&](Chunk& ch) {
        size_t n = ch.raw.size();
        ch.tokens.assign(n, {});
        ch.val.assign(n, 0);
        ch.error.assign(n, {});
        size_t tasks = std::max<size_t>(1, std::min<size_t>(n, size_t(pool.size()) * 4));
        for (size_t k = 0; k < tasks; ++k)
          running.push_back(pool.submit([&ctx, &ch, n, k, tasks] {
            tokenise(ctx, ch, n * k / tasks, n * (k + 1) / tasks);
          }));
      };
      auto wait = [&] {  // every task finishes before a worker's exception is rethrown
        std::exception_ptr first;
        for (auto& f : running) {
          try {
            f.get();
          } catch (...) {
            if (!first) first = std::current_exception();
          }
        }
        running.clear();
        if (first) std::rethrow_exception(first);
      };
      uint64_t done_bytes = bytes_before;
      for (size_t k = fi; k <= fj; ++k) {
        std::unique_ptr<DocReader> reader;
        if (k < fj) reader = std::make_unique<DocReader>(files[k], o.corpus_opts);
        RawDoc d;
        while (true) {
          bool more = reader && reader->next(d);
          if (more) {
            next.bytes += d.data.size();
            next.raw.push_back(std::move(d));
            next.file.push_back(int(k));
          }
          bool full = next.raw.size() >= 4096 || next.bytes >= (8u << 20);
          if (full || (!more && k == fj && !next.raw.empty())) {
            wait();
            flush(cur);
            std::swap(cur, next);
            next = Chunk();
            launch(cur);
            bar.update(done_bytes + (reader ? reader->compressed_offset() : 0),
                       std::to_string(counts[0][0] + counts[1][0] + docs) + " docs");
          }
          if (!more) break;
        }
        if (k < fj) done_bytes += files[k].size;
      }
      wait();
      flush(cur);
      marker = {{"key", key}, {"files", part_files}, {"skipped_lines", part_skipped}};
      marker["train"] = w[0].close();
      marker["validation"] = w[1].close();
      write_file_atomic(base + ".json", marker.dump(1));
    } else {
      ++res.parts_reused;
    }
    bytes_before += part_bytes;
    bar.update(bytes_before, std::to_string(counts[0][0] + counts[1][0]) + " docs");
    for (int s = 0; s < 2; ++s) {
      const auto& c = marker[s == 0 ? "train" : "validation"];
      counts[s][0] += c["docs"].get<int64_t>();
      counts[s][1] += c["tokens"].get<int64_t>();
    }
    skipped += marker["skipped_lines"].get<int64_t>();
    parts.push_back({{"name", name}, {"files", part_files}, {"train", marker["train"]},
                     {"validation", marker["validation"]}});
    fi = fj;
  }
  bar.finish();
  std::string where = o.corpus.size() == 1 ? o.corpus[0] : o.corpus[0] + " (and others)";
  if (counts[0][0] + counts[1][0] == 0)
    throw Error(where + ": empty corpus: no documents with text in " +
                std::to_string(files.size()) + " file(s)");
  if (counts[0][0] == 0)
    throw Error(by_files ? where + ": no training documents: every file is a validation file by its "
                                   "name (*validation*); add the training files (e.g. "
                                   "c4-train.*.json.gz) to --corpus"
                         : where + ": every document went to the validation split; lower --val-fraction");

  nlohmann::json m;
  m["format"] = kPreparedFormat;
  m["key"] = key;
  m["created"] = now_iso8601();
  m["tokenizer"] = {{"file", "tokenizer.model"}, {"source", o.tokenizer}, {"sha256", tok.sha256()},
                    {"vocab_size", tok.vocab_size()}, {"eos_id", tok.eos_id()},
                    {"pad_id", tok.pad_id()}};
  m["dtype"] = u16 ? "uint16" : "uint32";
  m["seq_len"] = o.seq_len;
  nlohmann::json jf = nlohmann::json::array();
  for (const auto& f : files)
    jf.push_back({{"path", f.rel}, {"size", f.size},
                  {"split", f.split == SplitHint::kValidation ? "validation"
                            : by_files                         ? "train"
                                                               : "hashed"}});
  m["corpus"] = {{"roots", o.corpus}, {"text_field", o.corpus_opts.text_field},
                 {"doc_mode", o.corpus_opts.doc_mode == DocMode::kFile ? "file" : "paragraph"},
                 {"files", jf}};
  m["split"] = {{"method", by_files ? "files" : "hash"},
                {"val_fraction", by_files ? 0.0 : o.val_fraction}, {"seed", o.split_seed}};
  m["counts"] = {{"train", {{"docs", counts[0][0]}, {"tokens", counts[0][1]}}},
                 {"validation", {{"docs", counts[1][0]}, {"tokens", counts[1][1]}}}};
  m["skipped_lines"] = skipped;
  m["parts"] = parts;
  write_file_atomic(mpath, m.dump(1));  // last: from here on the directory is complete
  res.manifest = m;
  res.seconds = now_seconds() - t0;
  return res;
}

}  // namespace gpas
