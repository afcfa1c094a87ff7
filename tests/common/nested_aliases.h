// A small YAML file of nested aliases, as the kill-storm trial wrote it (issue 25): `a` a list of
// 9 strings, then 9 levels of lists of 9 aliases to the level before, 9^9 leaves in all from a
// few hundred bytes. Shared by the config and sweep-file tests.
#pragma once
#include <string>

namespace gpas::testing {

inline std::string nested_aliases() {
  std::string yaml = "a: &a [s, s, s, s, s, s, s, s, s]\n";
  std::string prev = "a";
  for (char c = 'b'; c <= 'j'; ++c) {
    std::string n(1, c);
    yaml += n + ": &" + n + " [";
    for (int i = 0; i < 9; ++i) yaml += (i ? ", *" : "*") + prev;
    yaml += "]\n";
    prev = n;
  }
  return yaml;
}

}  // namespace gpas::testing
