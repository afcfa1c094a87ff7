// Corpus discovery and streaming readers. zlib's gzread reads plain files as they are and
// concatenated gzip members one after another; its errors become gpas::Error at file:line.
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

LineReader::LineReader(const std::string& path) : path_(path), buf_(1 << 20) {
  gzFile gz = gzopen(path.c_str(), "rb");
  if (!gz) throw Error(path + ": cannot open (" + std::strerror(errno) + ")");
  gzbuffer(gz, 1 << 18);
  gz_ = gz;
}

LineReader::~LineReader() {
  if (gz_) gzclose_r(static_cast<gzFile>(gz_));
}

uint64_t LineReader::compressed_offset() const {
  long off = gzoffset(static_cast<gzFile>(gz_));
  return off < 0 ? 0 : static_cast<uint64_t>(off);
}

// A failed large gzread drops what it decoded before the damage, so the line is found again by
// re-reading the file in small steps up to the error.
int64_t LineReader::error_line() const {
  gzFile gz = gzopen(path_.c_str(), "rb");
  if (!gz) return line_no_ + 1;
  gzbuffer(gz, 64);  // small steps: what a failing step decoded is lost
  int64_t lines = 0;
  int c;
  while ((c = gzgetc(gz)) >= 0) lines += c == '\n';
  gzclose_r(gz);
  return std::max(lines, line_no_) + 1;
}

bool LineReader::fill() {
  if (eof_) return false;
  if (pos_ > 0) {
    std::memmove(buf_.data(), buf_.data() + pos_, end_ - pos_);
    end_ -= pos_;
    pos_ = 0;
  }
  if (end_ == buf_.size()) buf_.resize(buf_.size() * 2);  // a line longer than the buffer
  int n = gzread(static_cast<gzFile>(gz_), buf_.data() + end_,
                 static_cast<unsigned>(buf_.size() - end_));
  int err = Z_OK;
  const char* msg = gzerror(static_cast<gzFile>(gz_), &err);
  // zlib reports a truncated member (Z_BUF_ERROR) only at the end, with n == 0.
  if (n < 0 || (n == 0 && err != Z_OK)) {
    std::string why = msg;  // zlib prefixes it with "<path>: ", which at() already writes
    if (why.rfind(path_ + ": ", 0) == 0) why.erase(0, path_.size() + 2);
    throw Error(at(path_, static_cast<int>(error_line()),
                   "corrupt gzip data (" + why +
                       "); the file is damaged or truncated: download it again"));
  }
  if (n == 0) {
    eof_ = true;
    return false;
  }
  end_ += static_cast<size_t>(n);
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
