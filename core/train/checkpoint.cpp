#include "core/train/checkpoint.h"

#include <fcntl.h>
#include <sys/statvfs.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstdio>
#include <cstring>
#include <filesystem>

#include "core/common/error.h"
#include "core/common/fs.h"
#include "core/common/hash.h"
#include "core/config/config_yaml.h"

namespace gpas {

namespace fs = std::filesystem;

std::string checkpoint_path(const std::string& run_dir, int64_t step) {
  char name[64];
  std::snprintf(name, sizeof(name), "step_%08lld.pt", static_cast<long long>(step));
  return (fs::path(run_dir) / "checkpoints" / name).string();
}

std::vector<std::string> list_checkpoints(const std::string& run_dir) {
  std::vector<std::string> out;
  fs::path dir = fs::path(run_dir) / "checkpoints";
  if (!fs::is_directory(dir)) return out;
  for (const auto& e : fs::directory_iterator(dir)) {
    std::string n = e.path().filename().string();
    if (n.rfind("step_", 0) == 0 && n.size() > 3 && n.substr(n.size() - 3) == ".pt")
      out.push_back(e.path().string());
  }
  std::sort(out.begin(), out.end());  // zero-padded step numbers sort by step
  return out;
}

std::string checksum_path(const std::string& ckpt) { return ckpt + ".sha256"; }

void prune_checkpoints(const std::string& run_dir, int64_t keep) {
  auto all = list_checkpoints(run_dir);
  for (size_t i = 0; i + keep < all.size(); ++i) {
    fs::remove(all[i]);
    fs::remove(checksum_path(all[i]));
  }
}

void remove_checkpoint_temps(const std::string& run_dir) {
  fs::path dir = fs::path(run_dir) / "checkpoints";
  std::error_code ec;
  if (!fs::is_directory(dir, ec)) return;
  for (const auto& e : fs::directory_iterator(dir, ec))
    if (e.path().filename().string().find(".tmp.") != std::string::npos) fs::remove(e.path(), ec);
}

namespace {

std::string megabytes(double bytes) {
  char buf[32];
  std::snprintf(buf, sizeof buf, "%.1f MB", bytes / 1e6);
  return buf;
}

// A failed checkpoint write: the temp file goes, and a full disk says what it needs.
[[noreturn]] void write_failed(const std::string& path, const std::string& tmp, int err, int64_t written) {
  ::unlink(tmp.c_str());
  std::string dir = fs::path(path).parent_path().string();
  std::string msg = path + ": cannot write the checkpoint (" + std::strerror(err) + ")";
  if (err == ENOSPC || err == EFBIG || err == EDQUOT) {
    auto all = list_checkpoints(fs::path(dir).parent_path().string());
    std::error_code ec;
    double need = all.empty() ? 0.0 : double(fs::file_size(all.back(), ec));
    struct statvfs v {};
    double avail = ::statvfs(dir.c_str(), &v) == 0 ? double(v.f_bavail) * double(v.f_frsize) : -1;
    msg += ": a checkpoint needs about " + megabytes(std::max(need, double(written))) + ", " +
           (avail >= 0 ? megabytes(avail) : std::string("an unknown amount")) + " is free in " + dir +
           (err == EFBIG ? " (or the file size limit, ulimit -f, is lower)" : "") +
           "; the partial file was removed. Free space (or lower train.keep_checkpoints) and run "
           "the same command again: it resumes from the last checkpoint";
  }
  throw Error(msg);
}

}  // namespace

std::string verify_checkpoint(const std::string& path) {
  if (!path_exists(checksum_path(path))) return "";  // written before checkpoints had checksums
  std::string line = read_file(checksum_path(path));
  std::string want = line.substr(0, line.find_first_of(" \n"));
  int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0) return std::string("cannot open (") + std::strerror(errno) + ")";
  Sha256 h;
  std::vector<char> buf(1 << 20);
  ssize_t n;
  while ((n = ::read(fd, buf.data(), buf.size())) > 0) h.update(buf.data(), size_t(n));
  ::close(fd);
  if (n < 0) return std::string("read error (") + std::strerror(errno) + ")";
  std::string got = h.hex();
  return got == want ? "" : "checksum mismatch (the file hashes to " + got.substr(0, 12) + "..., " +
                                checksum_path(path) + " says " + want.substr(0, 12) + "...)";
}

void save_checkpoint(const std::string& path, const RunConfig& cfg, Transformer& model,
                     torch::optim::Optimizer* opt, const TrainState& state) {
  torch::serialize::OutputArchive ar;
  ar.write("config", c10::IValue(to_json(cfg).dump()));
  ar.write("step", c10::IValue(state.step));
  ar.write("tokens_seen", c10::IValue(state.tokens_seen));
  ar.write("train_loss", c10::IValue(state.train_loss));
  ar.write("data", c10::IValue(state.data.dump()));
  ar.write("rng", at::detail::getDefaultCPUGenerator().get_state());
  torch::serialize::OutputArchive weights;
  for (const auto& p : model->named_parameters()) weights.write(p.key(), p.value().detach());
  ar.write("model", weights);
  if (opt) {
    torch::serialize::OutputArchive optim;
    opt->save(optim);
    ar.write("optimizer", optim);
  }
  make_dirs(fs::path(path).parent_path().string());
  // Written through our own fd so that a full disk is an errno, not an abort; hashed on the way
  // for the <ckpt>.sha256 beside it (sha256sum -c format), committed before the checkpoint.
  std::string tmp = path + ".tmp." + std::to_string(::getpid());
  int fd = ::open(tmp.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
  if (fd < 0) write_failed(path, tmp, errno, 0);
  Sha256 hash;
  int64_t written = 0;
  int err = 0;
  try {
    ar.save_to([&](const void* data, size_t n) -> size_t {
      const char* p = static_cast<const char*>(data);
      for (size_t left = n; left > 0 && err == 0;) {
        ssize_t w = ::write(fd, p, left);
        if (w < 0 && errno == EINTR) continue;
        if (w < 0) err = errno;
        else p += w, left -= size_t(w), written += w;
      }
      // A short count would make LibTorch throw from a destructor (std::terminate): after an
      // error the rest is dropped and the error is reported once the archive is done.
      if (err == 0) hash.update(data, n);
      return n;
    });
  } catch (const c10::Error& e) {
    if (err == 0) {
      ::close(fd);
      ::unlink(tmp.c_str());
      throw Error(path + ": cannot write the checkpoint (" + e.what_without_backtrace() + ")");
    }
  }
  if (err == 0 && ::fsync(fd) != 0) err = errno;
  if (::close(fd) != 0 && err == 0) err = errno;
  if (err) write_failed(path, tmp, err, written);
  try {
    write_file_atomic(checksum_path(path), hash.hex() + "  " + fs::path(path).filename().string() + "\n");
  } catch (const Error&) {
    write_failed(path, tmp, errno ? errno : EIO, written);
  }
  commit_file(tmp, path);
}

static torch::serialize::InputArchive open_archive(const std::string& path) {
  torch::serialize::InputArchive ar;
  try {
    ar.load_from(path);
  } catch (const c10::Error& e) {
    throw Error(path + ": not a readable gpas checkpoint (" + e.what_without_backtrace() + ")");
  }
  return ar;
}

TrainState load_checkpoint(const std::string& path, Transformer& model,
                           torch::optim::Optimizer* opt) {
  if (std::string bad = verify_checkpoint(path); !bad.empty()) throw Error(path + ": " + bad);
  auto ar = open_archive(path);
  TrainState s;
  c10::IValue v;
  ar.read("step", v);
  s.step = v.toInt();
  ar.read("tokens_seen", v);
  s.tokens_seen = v.toInt();
  ar.read("train_loss", v);
  s.train_loss = v.toDouble();
  ar.read("data", v);
  s.data = nlohmann::json::parse(v.toStringRef());
  torch::Tensor rng;
  ar.read("rng", rng);
  auto gen = at::detail::getDefaultCPUGenerator();
  gen.set_state(rng);
  torch::serialize::InputArchive weights;
  ar.read("model", weights);
  torch::NoGradGuard no_grad;
  for (auto& p : model->named_parameters()) {
    torch::Tensor t;
    weights.read(p.key(), t);
    p.value().copy_(t);
  }
  if (opt) {
    torch::serialize::InputArchive optim;
    ar.read("optimizer", optim);
    opt->load(optim);
  }
  return s;
}

std::string load_newest_checkpoint(const std::string& run_dir, Transformer& model,
                                   torch::optim::Optimizer* opt, TrainState& state,
                                   std::vector<std::string>& skipped) {
  auto all = list_checkpoints(run_dir);
  for (auto it = all.rbegin(); it != all.rend(); ++it) {
    try {
      state = load_checkpoint(*it, model, opt);
      return *it;
    } catch (const Error& e) {
      skipped.push_back(e.what());
    } catch (const c10::Error& e) {  // a record that fails to read after the archive opened
      skipped.push_back(*it + ": not a readable gpas checkpoint (" + e.what_without_backtrace() + ")");
    }
  }
  if (all.empty()) return "";
  std::string why;
  for (const auto& s : skipped) why += "\n  " + s;
  throw Error(run_dir + ": no checkpoint of this run can be read:" + why +
              "\nrun with --fresh to train it again from step 0");
}

RunConfig checkpoint_config(const std::string& path) {
  auto ar = open_archive(path);
  c10::IValue v;
  ar.read("config", v);
  return from_json(nlohmann::json::parse(v.toStringRef()));
}

}  // namespace gpas
