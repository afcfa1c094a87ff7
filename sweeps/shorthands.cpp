// Shorthand axes: size (preset + Table 1 recipe), norm (scheme; mix gets post_layers = layers/4),
// method (scheme[+gpas]), gpas, activation, site, stopgrad, learnable, seed, lr, steps.
#include "sweeps/shorthands.h"

#include <algorithm>
#include <functional>
#include <map>

#include "core/common/error.h"
#include "core/config/presets.h"
#include "core/config/schemes.h"

namespace gpas::sweeps {

namespace {

using Expand = std::function<std::vector<Setting>(const YAML::Node&, const std::string&, int)>;
// A shorthand: what a value sets, and the keys its values name (what the job names say); the
// other keys it sets (size's Table 1 recipe, Mix-LN's post_layers) are defaults --set may change.
struct Shorthand {
  Expand expand;
  std::vector<std::string> keys;
};

Setting make(const std::string& key, const YAML::Node& v, const std::string& file, int line) {
  return Setting{key, v, file, line};
}
Setting make(const std::string& key, const std::string& v, const std::string& file, int line) {
  return Setting{key, YAML::Node(v), file, line};
}

std::string text(const YAML::Node& v, const std::string& axis, const std::string& file, int line) {
  if (!v.IsScalar()) throw Error(at(file, line, axis + ": expected a single value"));
  return v.Scalar();
}

std::vector<Setting> norm_settings(const std::string& scheme, const std::string& file, int line,
                                   const std::string& axis) {
  if (!find_scheme(scheme))
    throw Error(at(file, line, axis + ": unknown scheme '" + scheme + "' (one of " + scheme_names() + ")"));
  std::vector<Setting> out{make("model.norm", scheme, file, line)};
  // Mix-LN's post_layers follows the layer count of whatever size the cell has (resolve(): L/4;
  // the other schemes do not read it, and resolve() resets it for them).
  out.push_back(make("model.post_layers", "-1", file, line));
  return out;
}

// A GPAS-variant axis (activation, site): the value, and GPAS switched on.
Shorthand gpas_knob(const std::string& key) {
  return {[key](const YAML::Node& v, const std::string& file, int line) {
            return std::vector<Setting>{make(key, v, file, line), make("model.gpas.enabled", "true", file, line)};
          },
          {key, "model.gpas.enabled"}};
}

Shorthand plain(const std::string& key) {
  return {[key](const YAML::Node& v, const std::string& file, int line) {
            return std::vector<Setting>{make(key, v, file, line)};
          },
          {key}};
}

const std::map<std::string, Shorthand>& table() {
  static const std::map<std::string, Shorthand> kTable = {
      {"size",
       {[](const YAML::Node& v, const std::string& file, int line) {
         std::string size = text(v, "size", file, line);
         if (!find_size_preset(size))
           throw Error(at(file, line, "size: unknown size '" + size + "' (one of " +
                                          size_preset_names() + ")"));
         std::vector<Setting> out{make("model.size", size, file, line)};
         if (const TrainRecipe* r = find_train_recipe(size)) {  // Table 1
           out.push_back(make("train.lr", YAML::Node(r->lr), file, line));
           out.push_back(make("train.warmup_steps", YAML::Node(r->warmup_steps), file, line));
           out.push_back(make("train.steps", YAML::Node(r->steps), file, line));
           out.push_back(make("train.batch_size", YAML::Node(r->batch_size), file, line));
         }
         return out;
       },
       {"model.size"}}},
      {"norm",
       {[](const YAML::Node& v, const std::string& file, int line) {
          return norm_settings(text(v, "norm", file, line), file, line, "norm");
        },
        {"model.norm"}}},
      {"method",
       {[](const YAML::Node& v, const std::string& file, int line) {
         std::string m = text(v, "method", file, line);
         bool gpas = false;
         const std::string suffix = "+gpas";
         if (m.size() > suffix.size() && m.compare(m.size() - suffix.size(), suffix.size(), suffix) == 0) {
           gpas = true;
           m.resize(m.size() - suffix.size());
         }
         auto out = norm_settings(m, file, line, "method");
         out.push_back(make("model.gpas.enabled", gpas ? "true" : "false", file, line));
         return out;
       },
       {"model.norm", "model.gpas.enabled"}}},
      {"gpas", plain("model.gpas.enabled")},
      {"activation", gpas_knob("model.gpas.activation")},
      {"site", gpas_knob("model.gpas.site")},
      {"stopgrad", gpas_knob("model.gpas.stopgrad")},
      {"learnable", gpas_knob("model.gpas.learnable")},
      {"seed", plain("train.seed")},
      {"lr", plain("train.lr")},
      {"steps", plain("train.steps")},
  };
  return kTable;
}

}  // namespace

bool is_shorthand(const std::string& axis) { return table().count(axis) > 0; }

std::string shorthand_names() {
  std::string s;
  for (const auto& kv : table()) s += (s.empty() ? "" : ", ") + kv.first;
  return s;
}

std::vector<Setting> shorthand_settings(const std::string& axis, const YAML::Node& value,
                                        const std::string& file, int line) {
  auto it = table().find(axis);
  if (it == table().end()) throw Error(at(file, line, "unknown shorthand axis '" + axis + "'"));
  return it->second.expand(value, file, line);
}

std::vector<std::string> shorthand_keys(const std::string& axis) {
  auto it = table().find(axis);
  return it == table().end() ? std::vector<std::string>{} : it->second.keys;
}

}  // namespace gpas::sweeps
