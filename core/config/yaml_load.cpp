// load_yaml_file / load_yaml_text: yaml-cpp behind checks for directories, duplicated keys and
// aliases that expand without bound.
#include "core/config/yaml_load.h"

#include <cstdint>
#include <filesystem>
#include <fstream>
#include <map>
#include <set>
#include <sstream>
#include <vector>

#include <yaml-cpp/eventhandler.h>

#include "core/common/error.h"

namespace gpas {

namespace {

// The most nodes that aliases may add to a document. A config or sweep file has hundreds; a file
// of nested aliases (`b: &b [*a, *a, ...]`, nine levels) expands to 9^9 and used to take minutes
// before anything refused it.
constexpr uint64_t kMaxAliasNodes = 100000;
// The largest config or sweep file read. The examples are a few KB; a grid of 10^6 cells is a few
// lines of axes. A 50 MB file took yaml-cpp 106 s to parse before the grid's size refused it.
constexpr uintmax_t kMaxFileBytes = 4u << 20;

// Checks the parser's events rather than the node tree: an alias is one event here, so the check
// costs the file's size however far its aliases expand. Refuses duplicated keys in a mapping, an
// alias inside the node it names (a cycle), and aliases that expand past kMaxAliasNodes.
class Checker : public YAML::EventHandler {
 public:
  explicit Checker(std::string label) : label_(std::move(label)) {}

  void OnDocumentStart(const YAML::Mark&) override {}
  void OnDocumentEnd() override {}
  void OnNull(const YAML::Mark& m, YAML::anchor_t a) override { leaf(m, a, nullptr); }
  void OnScalar(const YAML::Mark& m, const std::string&, YAML::anchor_t a, const std::string& v) override {
    leaf(m, a, &v);
  }
  void OnAlias(const YAML::Mark& m, YAML::anchor_t a) override {
    auto size = sizes_.find(a);
    if (size == sizes_.end())
      throw Error(at(label_, m.line + 1, "*" + name_of(a) + " is an alias inside the node it names "
                                         "(a cycle); write the values out instead"));
    alias_nodes_ += size->second;
    if (alias_nodes_ > kMaxAliasNodes)
      throw Error(at(label_, m.line + 1,
                     "the YAML aliases up to *" + name_of(a) + " expand to more than " +
                         std::to_string(kMaxAliasNodes) +
                         " nodes, far more than any config or sweep file needs; write the values "
                         "out or nest fewer aliases"));
    auto s = scalars_.find(a);
    begin(m, s == scalars_.end() ? nullptr : &s->second, size->second);
    end();
  }
  void OnSequenceStart(const YAML::Mark& m, const std::string&, YAML::anchor_t a,
                       YAML::EmitterStyle::value) override {
    open(m, a, false);
  }
  void OnSequenceEnd() override { close(); }
  void OnMapStart(const YAML::Mark& m, const std::string&, YAML::anchor_t a,
                  YAML::EmitterStyle::value) override {
    open(m, a, true);
  }
  void OnMapEnd() override { close(); }
  void OnAnchor(const YAML::Mark&, const std::string& name) override { pending_name_ = name; }

 private:
  struct Frame {
    bool map = false;
    bool at_key = true;  // a mapping's next node is a key
    std::set<std::string> keys;
    YAML::anchor_t anchor = 0;
    uint64_t nodes_before = 0;  // nodes_ when it opened
  };

  std::string name_of(YAML::anchor_t a) const {
    auto it = names_.find(a);
    return it == names_.end() ? std::to_string(a) : it->second;
  }
  void name(YAML::anchor_t a) {
    if (a) names_[a] = pending_name_;
    pending_name_.clear();
  }
  // A node starts: as a mapping's key, its text (null for a non-scalar) must be new there.
  void begin(const YAML::Mark& m, const std::string* text, uint64_t nodes = 1) {
    nodes_ += nodes;
    if (stack_.empty() || !stack_.back().map || !stack_.back().at_key || !text) return;
    if (!stack_.back().keys.insert(*text).second)
      throw Error(at(label_, m.line + 1, *text + ": this key appears twice in one mapping; keep one of them"));
  }
  // A node ended: a mapping's key is followed by its value, a value by the next key.
  void end() {
    if (!stack_.empty() && stack_.back().map) stack_.back().at_key = !stack_.back().at_key;
  }
  void leaf(const YAML::Mark& m, YAML::anchor_t a, const std::string* v) {
    name(a);
    begin(m, v);
    if (a) {
      sizes_[a] = 1;
      if (v) scalars_[a] = *v;
    }
    end();
  }
  void open(const YAML::Mark& m, YAML::anchor_t a, bool map) {
    name(a);
    begin(m, nullptr);
    stack_.push_back(Frame{map, true, {}, a, nodes_ - 1});
  }
  void close() {
    Frame f = std::move(stack_.back());
    stack_.pop_back();
    if (f.anchor) sizes_[f.anchor] = nodes_ - f.nodes_before;
    end();
  }

  std::string label_;
  std::vector<Frame> stack_;
  std::map<YAML::anchor_t, uint64_t> sizes_;  // nodes an alias of this anchor stands for
  std::map<YAML::anchor_t, std::string> scalars_;
  std::map<YAML::anchor_t, std::string> names_;
  std::string pending_name_;
  uint64_t nodes_ = 0;        // nodes so far, each alias counted as the nodes it stands for
  uint64_t alias_nodes_ = 0;  // of which aliases stand for
};

YAML::Node checked_load(const std::string& text, const std::string& label) {
  try {
    std::istringstream in(text);
    YAML::Parser parser(in);
    Checker check(label);
    parser.HandleNextDocument(check);  // YAML::Load reads the first document only
    return YAML::Load(text);
  } catch (const YAML::ParserException& e) {
    throw Error(at(label, e.mark.line + 1, "invalid YAML: " + e.msg));
  }
}

}  // namespace

YAML::Node load_yaml_text(const std::string& text, const std::string& label) {
  return checked_load(text, label);
}

YAML::Node load_yaml_file(const std::string& path, const std::string& what) {
  std::error_code ec;
  if (std::filesystem::is_directory(path, ec))
    throw Error(path + ": is a directory, not a " + what + " (name a YAML file)");
  if (uintmax_t bytes = std::filesystem::file_size(path, ec); !ec && bytes > kMaxFileBytes)
    throw Error(path + ": " + std::to_string(bytes >> 20) + " MiB is more than a " + what + " needs (at most " +
                std::to_string(kMaxFileBytes >> 20) + " MiB are read); a grid is a few lines of axes, "
                "each a list of values (experiments/README.md)");
  std::ifstream in(path, std::ios::binary);
  if (!in) throw Error(path + ": cannot open the " + what);
  std::ostringstream text;
  text << in.rdbuf();
  if (in.bad()) throw Error(path + ": cannot read the " + what);
  return checked_load(text.str(), path);
}

}  // namespace gpas
