// Corpus readers that stream documents from files as users hold them: C4's json.gz directory,
// any JSONL(.gz) with a named text field, plain text files (one document per file or per
// blank-line paragraph). gzip through zlib, multi-member files included. No tokenisation here.
#pragma once
#include <cstdint>
#include <cstdio>
#include <functional>
#include <memory>
#include <string>
#include <vector>

namespace gpas {

enum class CorpusFormat { kJsonl, kText };
enum class DocMode { kFile, kParagraph };
enum class SplitHint { kNone, kTrain, kValidation };  // from the file name (C4's own split)

struct CorpusOptions {
  std::string text_field = "text";  // JSONL: the field holding the document
  DocMode doc_mode = DocMode::kFile;
  bool skip_bad_lines = false;      // JSONL: skip (and count) bad lines instead of failing
};

struct CorpusFile {
  std::string path;  // as found on disk
  std::string rel;   // relative to the corpus root given by the user (stable across machines)
  uint64_t size = 0;
  CorpusFormat format = CorpusFormat::kText;
  SplitHint split = SplitHint::kNone;
};

// Files of the corpus at `paths` (files or directories, searched recursively, hidden files
// skipped), sorted by path. Throws gpas::Error for a missing path or when nothing is found.
std::vector<CorpusFile> list_corpus(const std::vector<std::string>& paths);
DocMode parse_doc_mode(const std::string& s);  // "file" | "paragraph", else gpas::Error

// One document as read, before parsing: a JSON line or a text document.
struct RawDoc {
  std::string data;
  int64_t line = 0;  // 1-based line where it starts (for errors and the split hash)
};

// Reads plain or gzip-compressed bytes line by line (gzip: any number of members one after
// another, as gzip writes and reads them). A corrupt or truncated member, or bytes after the last
// member that are not one, throw gpas::Error naming the file and the line being read, after the
// lines before the damage have been returned.
class LineReader {
 public:
  explicit LineReader(const std::string& path);
  ~LineReader();
  LineReader(const LineReader&) = delete;
  LineReader& operator=(const LineReader&) = delete;
  bool next(std::string& line);  // without the '\n'; false at the end
  int64_t line_no() const { return line_no_; }
  uint64_t compressed_offset() const;  // for progress

 private:
  bool fill();
  size_t read(char* out, size_t cap);  // decoded bytes; 0 at the end
  size_t read_file(void* out, size_t cap);  // raw bytes, counted in in_read_
  bool refill_input();
  [[noreturn]] void damaged(const std::string& why) const;
  std::string path_;
  std::FILE* file_ = nullptr;
  void* zs_ = nullptr;  // z_stream, for a gzip file
  bool in_member_ = false;
  std::vector<unsigned char> in_;
  uint64_t in_read_ = 0;  // bytes read from the file
  std::string error_;     // damage found after decoding bytes not yet returned
  std::vector<char> buf_;
  size_t pos_ = 0, end_ = 0;
  bool eof_ = false;
  int64_t line_no_ = 0;
};

// Streams the raw documents of one file.
class DocReader {
 public:
  DocReader(const CorpusFile& f, const CorpusOptions& o);
  bool next(RawDoc& d);
  uint64_t compressed_offset() const { return lines_.compressed_offset(); }

 private:
  CorpusFile file_;
  CorpusOptions opts_;
  LineReader lines_;
  bool file_done_ = false;
};

// The text of a raw document. JSONL: parses the line and takes the text field; returns false with
// the reason in `why` for a bad line (not JSON, no such field, not a string). Text: the data.
bool doc_text(const RawDoc& d, CorpusFormat fmt, const std::string& text_field, std::string& text,
              std::string& why);

// Pulls the texts of the documents of `files` one at a time, in order (for consumers that pull,
// such as the tokenizer trainer): bad JSON lines throw unless skipped, then skipped() counts them.
class DocStream {
 public:
  DocStream(std::vector<CorpusFile> files, CorpusOptions o);
  bool next(std::string& text);  // false at the end
  int64_t skipped() const { return skipped_; }

 private:
  std::vector<CorpusFile> files_;
  CorpusOptions opts_;
  size_t file_ = 0;  // the next file to open
  std::unique_ptr<DocReader> reader_;
  RawDoc raw_;
  std::string why_;
  int64_t skipped_ = 0;
};

// Calls fn(text) for every document of `files` in order; bad JSON lines throw unless skipped
// (then *skipped counts them). fn returns false to stop early.
void for_each_doc(const std::vector<CorpusFile>& files, const CorpusOptions& o,
                  const std::function<bool(const std::string&)>& fn, int64_t* skipped = nullptr);

}  // namespace gpas
