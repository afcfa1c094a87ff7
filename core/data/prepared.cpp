// Opening a prepared directory: reads the manifest, memory-maps every part's .bin and .idx, and
// answers "tokens of document i of split s" without copying the corpus into memory.
#include "core/data/prepared.h"

#include <fcntl.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>

#include "core/common/error.h"
#include "core/common/fs.h"

namespace gpas {

const char* split_name(Split s) { return s == Split::kTrain ? "train" : "validation"; }

PreparedData::Mapped PreparedData::map(const std::string& path) {
  int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0)
    throw Error(path + ": cannot open (" + std::strerror(errno) +
                "); the prepared directory is damaged, run `gpas data prepare` again");
  struct stat st {};
  ::fstat(fd, &st);
  Mapped m;
  m.bytes = static_cast<size_t>(st.st_size);
  if (m.bytes > 0) {
    void* p = ::mmap(nullptr, m.bytes, PROT_READ, MAP_SHARED, fd, 0);
    if (p == MAP_FAILED) {
      ::close(fd);
      throw Error(path + ": mmap failed (" + std::strerror(errno) + ")");
    }
    m.data = static_cast<const uint8_t*>(p);
    maps_.push_back(m);
  }
  ::close(fd);
  return m;
}

PreparedData::~PreparedData() {
  for (auto& m : maps_) ::munmap(const_cast<uint8_t*>(m.data), m.bytes);
}

std::shared_ptr<PreparedData> PreparedData::open(const std::string& dir) {
  if (!path_exists(dir)) throw Error(dir + ": prepared data directory not found (make it with `gpas data prepare`)");
  std::string mpath = dir + "/manifest.json";
  if (!path_exists(mpath))
    throw Error(dir + ": not a complete prepared directory (no manifest.json): `gpas data prepare` "
                "did not finish here; run it again with the same arguments to finish it");
  std::shared_ptr<PreparedData> d(new PreparedData());
  d->dir_ = dir;
  try {
    d->manifest_ = nlohmann::json::parse(read_file(mpath));
    if (d->manifest_.at("format") != kPreparedFormat)
      throw Error(mpath + ": unknown format " + d->manifest_.at("format").dump());
    const auto& tok = d->manifest_.at("tokenizer");
    d->tok_sha_ = tok.at("sha256").get<std::string>();
    d->vocab_ = tok.at("vocab_size").get<int64_t>();
    d->eos_ = tok.at("eos_id").get<int32_t>();
    d->pad_ = tok.at("pad_id").get<int32_t>();
    d->u16_ = d->manifest_.at("dtype") == "uint16";
    for (const auto& part : d->manifest_.at("parts")) {
      std::string base = dir + "/parts/" + part.at("name").get<std::string>();
      for (Split s : {Split::kTrain, Split::kValidation}) {
        const auto& c = part.at(split_name(s));
        int64_t n = c.at("docs").get<int64_t>();
        if (n == 0) continue;
        auto& sd = d->splits_[int(s)];
        Part p;
        p.first_doc = sd.docs;
        p.docs = n;
        const char* tag = s == Split::kTrain ? ".train" : ".val";
        p.bin = d->map(base + tag + ".bin");
        p.idx = d->map(base + tag + ".idx");
        int64_t toks = c.at("tokens").get<int64_t>();
        if (p.idx.bytes != size_t(n + 1) * 8 || p.bin.bytes != size_t(toks) * (d->u16_ ? 2 : 4))
          throw Error(base + tag + ".bin/.idx: sizes do not match the manifest; the directory is "
                      "damaged, prepare it again with --force");
        sd.docs += n;
        sd.tokens += toks;
        sd.parts.push_back(p);
      }
    }
  } catch (const nlohmann::json::exception& e) {
    throw Error(mpath + ": malformed manifest (" + e.what() + ")");
  }
  return d;
}

const PreparedData::Part& PreparedData::find(Split s, int64_t& i) const {
  const auto& parts = splits_[int(s)].parts;
  auto it = std::upper_bound(parts.begin(), parts.end(), i,
                             [](int64_t v, const Part& p) { return v < p.first_doc; });
  const Part& p = *(it - 1);
  i -= p.first_doc;
  return p;
}

int64_t PreparedData::doc_len(Split s, int64_t i) const {
  const Part& p = find(s, i);
  const uint64_t* off = reinterpret_cast<const uint64_t*>(p.idx.data);
  return static_cast<int64_t>(off[i + 1] - off[i]);
}

void PreparedData::copy(Split s, int64_t i, int64_t from, int64_t n, int32_t* out) const {
  const Part& p = find(s, i);
  const uint64_t* off = reinterpret_cast<const uint64_t*>(p.idx.data);
  uint64_t start = off[i] + static_cast<uint64_t>(from);
  if (u16_) {
    const uint16_t* t = reinterpret_cast<const uint16_t*>(p.bin.data) + start;
    for (int64_t k = 0; k < n; ++k) out[k] = t[k];
  } else {
    std::memcpy(out, reinterpret_cast<const uint32_t*>(p.bin.data) + start, n * 4);
  }
}

std::vector<int32_t> PreparedData::doc(Split s, int64_t i) const {
  std::vector<int32_t> out(doc_len(s, i));
  copy(s, i, 0, static_cast<int64_t>(out.size()), out.data());
  return out;
}

}  // namespace gpas
