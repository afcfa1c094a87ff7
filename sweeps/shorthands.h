// Shorthand axes of sweep files: one value that stands for several config settings, the paper's
// way of naming things (`size: 350m` = the preset and its Table 1 recipe, `method: pre+gpas`).
// Plain config keys and `define:`d axes are handled by the sweep-file reader, not here.
#pragma once
#include <string>
#include <vector>

#include <yaml-cpp/yaml.h>

#include "core/config/config_yaml.h"

namespace gpas::sweeps {

bool is_shorthand(const std::string& axis);
std::string shorthand_names();  // "size, norm, method, ..." for error messages
// The settings one value stands for, all located at file:line. Throws gpas::Error (file:line) for
// a value the shorthand does not know (an unknown scheme, size, ...).
std::vector<Setting> shorthand_settings(const std::string& axis, const YAML::Node& value,
                                        const std::string& file, int line);
// The config keys a shorthand's values name (`method`: model.norm and model.gpas.enabled), not
// the defaults that come with them (`size`'s Table 1 recipe): a --set on one of these would make
// the jobs named after the values not have them.
std::vector<std::string> shorthand_keys(const std::string& axis);
// Schemes are core/config/schemes.h's rows; methods are "<scheme>" or "<scheme>+gpas".

}  // namespace gpas::sweeps
