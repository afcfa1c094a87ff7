// load_yaml_file / load_yaml_text: yaml-cpp behind checks for directories and duplicated keys.
#include "core/config/yaml_load.h"

#include <filesystem>
#include <set>

#include "core/common/error.h"

namespace gpas {

namespace {

void check_duplicates(const YAML::Node& n, const std::string& label) {
  if (n.IsMap()) {
    std::set<std::string> seen;
    for (const auto& kv : n) {
      std::string key = kv.first.IsScalar() ? kv.first.Scalar() : "";
      if (kv.first.IsScalar() && !seen.insert(key).second)
        throw Error(at(label, kv.first.Mark().line + 1,
                       key + ": this key appears twice in one mapping; keep one of them"));
      check_duplicates(kv.second, label);
    }
  } else if (n.IsSequence()) {
    for (const auto& e : n) check_duplicates(e, label);
  }
}

}  // namespace

YAML::Node load_yaml_text(const std::string& text, const std::string& label) {
  YAML::Node root;
  try {
    root = YAML::Load(text);
  } catch (const YAML::ParserException& e) {
    throw Error(at(label, e.mark.line + 1, "invalid YAML: " + e.msg));
  }
  check_duplicates(root, label);
  return root;
}

YAML::Node load_yaml_file(const std::string& path, const std::string& what) {
  std::error_code ec;
  if (std::filesystem::is_directory(path, ec))
    throw Error(path + ": is a directory, not a " + what + " (name a YAML file)");
  YAML::Node root;
  try {
    root = YAML::LoadFile(path);
  } catch (const YAML::BadFile&) {
    throw Error(path + ": cannot open the " + what);
  } catch (const YAML::ParserException& e) {
    throw Error(at(path, e.mark.line + 1, "invalid YAML: " + e.msg));
  }
  check_duplicates(root, path);
  return root;
}

}  // namespace gpas
