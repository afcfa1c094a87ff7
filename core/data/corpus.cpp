// Corpus discovery and streaming readers. Plain files are read as they are, gzip files inflated
// member after member; damage becomes gpas::Error at file:line.
#include "core/data/corpus.h"

#include <zlib.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <filesystem>

#include <nlohmann/json.hpp>

#include "core/common/error.h"

namespace gpas {

namespace fs = std::filesystem;

namespace {

bool ends_with(const std::string& s, const std::string& suf) {
  return s.size() >= suf.size() && s.compare(s.size() - suf.size(), suf.size(), suf) == 0;
}

CorpusFile describe(const fs::path& p, const fs::path& root) {
  CorpusFile f;
  f.path = p.string();
  f.rel = root.empty() ? p.filename().string() : fs::relative(p, root).string();
  f.size = fs::file_size(p);
  std::string name = p.filename().string();
  std::string base = ends_with(name, ".gz") ? name.substr(0, name.size() - 3) : name;
  f.format = ends_with(base, ".json") || ends_with(base, ".jsonl") ? CorpusFormat::kJsonl
                                                                   : CorpusFormat::kText;
  if (name.rfind("c4-validation.", 0) == 0 || name.find("validation.") != std::string::npos)
    f.split = SplitHint::kValidation;
  else if (name.rfind("c4-train.", 0) == 0)
    f.split = SplitHint::kTrain;
  return f;
}

}  // namespace

std::vector<CorpusFile> list_corpus(const std::vector<std::string>& paths) {
  if (paths.empty()) throw Error("no corpus given (--corpus PATH)", kExitUsage);
  std::vector<CorpusFile> out;
  for (const auto& p : paths) {
    std::error_code ec;
    auto st = fs::status(p, ec);
    if (ec || !fs::exists(st)) throw Error(p + ": corpus path not found");
    if (fs::is_regular_file(st)) {
      out.push_back(describe(p, {}));
      continue;
    }
    if (!fs::is_directory(st)) throw Error(p + ": not a file or directory");
    size_t before = out.size();
    for (auto it = fs::recursive_directory_iterator(p, ec); !ec && it != fs::end(it);
         it.increment(ec)) {
      std::string name = it->path().filename().string();
      if (name.empty() || name[0] == '.') {
        if (it->is_directory()) it.disable_recursion_pending();
        continue;
      }
      if (it->is_regular_file()) out.push_back(describe(it->path(), p));
    }
    if (ec) throw Error(p + ": cannot list directory (" + ec.message() + ")");
    if (out.size() == before) throw Error(p + ": empty corpus: the directory holds no files");
  }
  std::sort(out.begin(), out.end(),
            [](const CorpusFile& a, const CorpusFile& b) { return a.path < b.path; });
  return out;
}

DocMode parse_doc_mode(const std::string& s) {
  if (s == "file") return DocMode::kFile;
  if (s == "paragraph") return DocMode::kParagraph;
  throw Error("--doc-mode " + s + ": expected file or paragraph", kExitUsage);
}

// gzip is inflated here, not read through gzread: zlib 1.3.2's gzread (Debian sid) ends without an
// error at a damaged member after the first, and returns a truncated member's data with the error
// and then never again, where 1.2.13 failed both; gpas would have dropped the rest of the file.
LineReader::LineReader(const std::string& path) : path_(path), in_(1 << 18), buf_(1 << 20) {
  file_ = std::fopen(path.c_str(), "rb");
  if (!file_) throw Error(path + ": cannot open (" + std::strerror(errno) + ")");
  unsigned char magic[2];
  size_t n = std::fread(magic, 1, 2, file_);
  if (n == 2 && magic[0] == 0x1f && magic[1] == 0x8b) {
    auto* zs = new z_stream{};
    if (inflateInit2(zs, 16 + MAX_WBITS) != Z_OK) {  // 16: gzip wrapper only
      delete zs;
      std::fclose(file_);
      throw Error(path + ": cannot start zlib (out of memory?)");
    }
    zs_ = zs;
    in_member_ = true;
  }
  std::rewind(file_);
}

LineReader::~LineReader() {
  if (zs_) {
    inflateEnd(static_cast<z_stream*>(zs_));
    delete static_cast<z_stream*>(zs_);
  }
  if (file_) std::fclose(file_);
}

uint64_t LineReader::compressed_offset() const {
  return zs_ ? in_read_ - static_cast<z_stream*>(zs_)->avail_in : in_read_;
}

void LineReader::damaged(const std::string& why) const {
  throw Error(at(path_, static_cast<int>(line_no_ + 1),
                 "corrupt gzip data (" + why + "); the file is damaged or truncated: download it again"));
}

size_t LineReader::read_file(void* out, size_t cap) {
  size_t n = std::fread(out, 1, cap, file_);
  if (n == 0 && std::ferror(file_)) throw Error(path_ + ": read error (" + std::strerror(errno) + ")");
  in_read_ += n;
  return n;
}

// Reads more of the file behind what inflate has not consumed yet; false at the end of the file.
bool LineReader::refill_input() {
  auto* zs = static_cast<z_stream*>(zs_);
  size_t keep = zs->avail_in;
  if (keep > 0 && zs->next_in != in_.data()) std::memmove(in_.data(), zs->next_in, keep);
  size_t n = read_file(in_.data() + keep, in_.size() - keep);
  zs->next_in = in_.data();
  zs->avail_in = static_cast<uInt>(keep + n);
  return n > 0;
}

size_t LineReader::read(char* out, size_t cap) {
  if (!error_.empty()) damaged(error_);
  if (!zs_) return read_file(out, cap);
  auto* zs = static_cast<z_stream*>(zs_);
  zs->next_out = reinterpret_cast<Bytef*>(out);
  zs->avail_out = static_cast<uInt>(cap);
  auto produced = [&] { return cap - zs->avail_out; };
  bool file_end = false;
  while (zs->avail_out > 0) {
    if (zs->avail_in < 2 && !file_end) file_end = !refill_input();
    if (!in_member_) {  // between members: another one, zero padding (as gzip allows), or damage
      if (zs->avail_in == 0) break;  // the end of the file
      if (zs->next_in[0] == 0) {
        const unsigned char* nz = std::find_if(zs->next_in, zs->next_in + zs->avail_in,
                                               [](unsigned char c) { return c != 0; });
        zs->avail_in -= static_cast<uInt>(nz - zs->next_in);
        zs->next_in = const_cast<Bytef*>(nz);
        continue;
      }
      if (zs->avail_in >= 2 && zs->next_in[0] == 0x1f && zs->next_in[1] == 0x8b) {
        inflateReset(zs);
        in_member_ = true;
        continue;
      }
      error_ = "bytes after a gzip member at byte " + std::to_string(compressed_offset()) +
               " are not another member";
      break;
    }
    if (zs->avail_in == 0) {  // the file ended inside a member
      error_ = "unexpected end of file";
      break;
    }
    int ret = inflate(zs, Z_NO_FLUSH);
    if (ret == Z_STREAM_END) {
      in_member_ = false;
    } else if (ret == Z_BUF_ERROR && !file_end) {  // no progress without more input
      file_end = !refill_input();
    } else if (ret != Z_OK) {
      error_ = ret == Z_BUF_ERROR ? "unexpected end of file"
               : zs->msg       ? zs->msg
                               : "zlib error " + std::to_string(ret);
      break;
    }
  }
  if (!error_.empty() && produced() == 0) damaged(error_);
  return produced();
}

bool LineReader::fill() {
  if (eof_) return false;
  if (pos_ > 0) {
    std::memmove(buf_.data(), buf_.data() + pos_, end_ - pos_);
    end_ -= pos_;
    pos_ = 0;
  }
  if (end_ == buf_.size()) buf_.resize(buf_.size() * 2);  // a line longer than the buffer
  size_t n = read(buf_.data() + end_, buf_.size() - end_);
  if (n == 0) {
    eof_ = true;
    return false;
  }
  end_ += n;
  return true;
}

bool LineReader::next(std::string& line) {
  size_t scan = pos_;
  while (true) {
    const char* start = buf_.data() + scan;
    const void* nl = std::memchr(start, '\n', end_ - scan);
    if (nl) {
      size_t at_nl = static_cast<const char*>(nl) - buf_.data();
      line.assign(buf_.data() + pos_, at_nl - pos_);
      pos_ = at_nl + 1;
      ++line_no_;
      return true;
    }
    size_t consumed = end_ - pos_;
    if (!fill()) {
      if (end_ == pos_) return false;
      line.assign(buf_.data() + pos_, end_ - pos_);  // last line without '\n'
      pos_ = end_;
      ++line_no_;
      return true;
    }
    scan = pos_ + consumed;
  }
}

DocReader::DocReader(const CorpusFile& f, const CorpusOptions& o)
    : file_(f), opts_(o), lines_(f.path) {}

bool DocReader::next(RawDoc& d) {
  std::string line;
  if (file_.format == CorpusFormat::kJsonl) {
    while (lines_.next(line)) {
      if (line.find_first_not_of(" \t\r") == std::string::npos) continue;  // blank line
      d.data.swap(line);
      d.line = lines_.line_no();
      return true;
    }
    return false;
  }
  if (file_done_) return false;
  d.data.clear();
  d.line = 0;
  bool paragraph = opts_.doc_mode == DocMode::kParagraph;
  while (lines_.next(line)) {
    if (!line.empty() && line.back() == '\r') line.pop_back();
    bool blank = line.find_first_not_of(" \t") == std::string::npos;
    if (paragraph && blank) {
      if (!d.data.empty()) return true;
      continue;
    }
    if (d.line == 0 && !blank) d.line = lines_.line_no();
    if (!d.data.empty() || !blank) {
      if (!d.data.empty()) d.data += '\n';
      d.data += line;
    }
  }
  file_done_ = true;
  while (!d.data.empty() && (d.data.back() == '\n' || d.data.back() == ' ')) d.data.pop_back();
  return !d.data.empty();
}

bool doc_text(const RawDoc& d, CorpusFormat fmt, const std::string& field, std::string& text,
              std::string& why) {
  if (fmt == CorpusFormat::kText) {
    text = d.data;
    return true;
  }
  auto j = nlohmann::json::parse(d.data, nullptr, /*allow_exceptions=*/false);
  if (j.is_discarded()) {
    why = "not valid JSON";
    return false;
  }
  if (!j.is_object()) {
    why = "the JSON line is not an object";
    return false;
  }
  auto it = j.find(field);
  if (it == j.end()) {
    why = "JSON line has no '" + field + "' field (choose the field with --text-field)";
    return false;
  }
  if (!it->is_string()) {
    why = "field '" + field + "' is not a string";
    return false;
  }
  text = it->get<std::string>();
  return true;
}

DocStream::DocStream(std::vector<CorpusFile> files, CorpusOptions o)
    : files_(std::move(files)), opts_(std::move(o)) {}

bool DocStream::next(std::string& text) {
  while (true) {
    if (!reader_) {
      if (file_ >= files_.size()) return false;
      reader_ = std::make_unique<DocReader>(files_[file_++], opts_);
    }
    if (!reader_->next(raw_)) {
      reader_.reset();
      continue;
    }
    const CorpusFile& f = files_[file_ - 1];
    if (doc_text(raw_, f.format, opts_.text_field, text, why_)) return true;
    if (!opts_.skip_bad_lines)
      throw Error(at(f.path, static_cast<int>(raw_.line),
                     why_ + "; --skip-bad-lines skips such lines"));
    ++skipped_;
  }
}

void for_each_doc(const std::vector<CorpusFile>& files, const CorpusOptions& o,
                  const std::function<bool(const std::string&)>& fn, int64_t* skipped) {
  DocStream docs(files, o);
  std::string text;
  while (docs.next(text))
    if (!fn(text)) break;
  if (skipped) *skipped += docs.skipped();
}

}  // namespace gpas
