// The seven Table 3 tasks as the LM Evaluation Harness (v0.4 task YAMLs) formats them, in the
// layouts of the harness's Hugging Face datasets (README: "Downstream evaluation"). Leaves out
// few-shot contexts (the paper is 0-shot) and generation tasks.
#include "core/data/mc_tasks.h"

#include <algorithm>
#include <cctype>
#include <cmath>
#include <fstream>
#include <regex>

#include "core/common/error.h"
#include "core/data/tokenizer.h"

namespace gpas {

namespace nj = nlohmann;

const std::vector<std::string>& mc_task_names() {
  static const std::vector<std::string> k = {"mmlu",      "winogrande", "piqa",    "openbookqa",
                                             "hellaswag", "boolq",      "arc_easy"};
  return k;
}

namespace {

struct Row {
  const nj::json& j;
  const std::string& where;
  const nj::json& at(const std::string& key) const {
    if (!j.contains(key)) throw Error(where + ": missing key \"" + key + "\"");
    return j[key];
  }
  std::string str(const std::string& key) const {
    const auto& v = at(key);
    if (!v.is_string()) throw Error(where + ": \"" + key + "\" must be a string");
    return v.get<std::string>();
  }
  std::vector<std::string> strs(const nj::json& v, const std::string& key) const {
    if (!v.is_array() || v.empty()) throw Error(where + ": \"" + key + "\" must be a non-empty list of strings");
    std::vector<std::string> out;
    for (const auto& e : v) {
      if (!e.is_string()) throw Error(where + ": \"" + key + "\" must be a list of strings");
      out.push_back(e.get<std::string>());
    }
    return out;
  }
  // An index given as a number, a digit string ("1"), or (letters) "A".."Z"; offset is subtracted.
  int index(const std::string& key, int offset, size_t n, bool letters = false) const {
    const auto& v = at(key);
    int i = -1;
    if (v.is_number_integer()) i = v.get<int>() - offset;
    else if (v.is_boolean()) i = v.get<bool>() ? 1 : 0;
    else if (v.is_string() && !v.get<std::string>().empty()) {
      std::string s = v.get<std::string>();
      if (letters && s.size() == 1 && std::isupper(static_cast<unsigned char>(s[0]))) i = s[0] - 'A';
      else if (std::all_of(s.begin(), s.end(), ::isdigit)) i = std::stoi(s) - offset;
    }
    if (i < 0 || size_t(i) >= n)
      throw Error(where + ": \"" + key + "\" = " + v.dump() + " is not one of the " +
                  std::to_string(n) + " choices");
    return i;
  }
  // answerKey looked up in choices.label (ARC, OpenBookQA).
  int label_index(const std::vector<std::string>& labels) const {
    std::string key = str("answerKey");
    key.erase(0, key.find_first_not_of(' '));
    for (size_t i = 0; i < labels.size(); ++i)
      if (labels[i] == key) return int(i);
    throw Error(where + ": answerKey \"" + key + "\" is not among choices.label");
  }
};

McDoc simple(const std::string& context, const std::vector<std::string>& choices, int gold) {
  McDoc d;
  d.choices = choices;
  d.gold = gold;
  for (const auto& c : choices) d.requests.push_back({context, " " + c});
  return d;
}

std::string python_capitalize(std::string s) {
  for (size_t i = 0; i < s.size(); ++i)
    s[i] = char(i == 0 ? std::toupper(static_cast<unsigned char>(s[i])) : std::tolower(static_cast<unsigned char>(s[i])));
  return s;
}

std::string strip(const std::string& s) {
  size_t b = s.find_first_not_of(" \t\n\r\f\v"), e = s.find_last_not_of(" \t\n\r\f\v");
  return b == std::string::npos ? "" : s.substr(b, e - b + 1);
}

void replace_all(std::string& s, const std::string& from, const std::string& to) {
  for (size_t p = 0; (p = s.find(from, p)) != std::string::npos; p += to.size()) s.replace(p, from.size(), to);
}

}  // namespace

std::string hellaswag_preprocess(const std::string& text) {
  std::string t = strip(text);
  replace_all(t, " [title]", ". ");
  static const std::regex brackets("\\[.*?\\]");
  t = std::regex_replace(t, brackets, "");
  // Python's str.replace("  ", " "): one left-to-right pass, not repeated.
  std::string out;
  for (size_t i = 0; i < t.size(); ++i) {
    if (t[i] == ' ' && i + 1 < t.size() && t[i + 1] == ' ') {
      out += ' ';
      ++i;
    } else {
      out += t[i];
    }
  }
  return out;
}

size_t utf8_length(const std::string& s) {
  size_t n = 0;
  for (unsigned char c : s) n += (c & 0xC0) != 0x80;
  return n;
}

McDoc format_mc_doc(const std::string& task, const nj::json& j, const std::string& where) {
  if (!j.is_object()) throw Error(where + ": not a JSON object");
  Row r{j, where};
  if (task == "arc_easy" || task == "openbookqa") {
    const auto& ch = r.at("choices");
    if (!ch.is_object()) throw Error(where + ": \"choices\" must be {\"text\": [...], \"label\": [...]}");
    auto text = r.strs(ch.value("text", nj::json()), "choices.text");
    auto label = r.strs(ch.value("label", nj::json()), "choices.label");
    if (text.size() != label.size()) throw Error(where + ": choices.text and choices.label differ in length");
    std::string ctx = task == "arc_easy" ? "Question: " + r.str("question") + "\nAnswer:" : r.str("question_stem");
    return simple(ctx, text, r.label_index(label));
  }
  if (task == "piqa")
    return simple("Question: " + r.str("goal") + "\nAnswer:", {r.str("sol1"), r.str("sol2")}, r.index("label", 0, 2));
  if (task == "boolq") {
    int gold = j.contains("label") ? r.index("label", 0, 2) : r.index("answer", 0, 2);
    return simple(r.str("passage") + "\nQuestion: " + r.str("question") + "?\nAnswer:", {"no", "yes"}, gold);
  }
  if (task == "hellaswag") {
    std::string ctx = r.str("ctx_a") + " " + python_capitalize(r.str("ctx_b"));
    std::vector<std::string> endings;
    for (const auto& e : r.strs(r.at("endings"), "endings")) endings.push_back(hellaswag_preprocess(e));
    return simple(hellaswag_preprocess(r.str("activity_label") + ": " + ctx), endings,
                  r.index("label", 0, endings.size()));
  }
  if (task == "mmlu") {
    auto choices = r.strs(r.at("choices"), "choices");
    if (choices.size() != 4) throw Error(where + ": \"choices\" must have 4 entries (MMLU)");
    std::string subject = r.str("subject"), spaced = subject;
    std::replace(spaced.begin(), spaced.end(), '_', ' ');
    std::string ctx = "The following are multiple choice questions (with answers) about " + spaced +
                      ".\n\n" + strip(r.str("question")) + "\nA. " + choices[0] + "\nB. " +
                      choices[1] + "\nC. " + choices[2] + "\nD. " + choices[3] + "\nAnswer:";
    McDoc d = simple(ctx, {"A", "B", "C", "D"}, r.index("answer", 0, 4, /*letters=*/true));
    d.group = subject;
    return d;
  }
  if (task == "winogrande") {
    // Partial scoring: each option completes the sentence up to the blank (the context); the model
    // is scored on the same rest of the sentence after the blank.
    std::string s = r.str("sentence");
    size_t blank = s.find('_');
    if (blank == std::string::npos) throw Error(where + ": \"sentence\" has no blank (_)");
    std::string rest = strip(s.substr(blank + 1));
    McDoc d;
    d.choices = {r.str("option1"), r.str("option2")};
    d.gold = r.index("answer", 1, 2);
    for (const auto& o : d.choices) d.requests.push_back({s.substr(0, blank) + o, " " + rest});
    return d;
  }
  throw Error("unknown task '" + task + "' (one of mmlu, winogrande, piqa, openbookqa, hellaswag, "
              "boolq, arc_easy)");
}

McTask load_mc_task(const std::string& task, const std::string& path, int64_t limit) {
  McTask t;
  t.name = task;
  t.has_acc_norm = task == "piqa" || task == "openbookqa" || task == "hellaswag" || task == "arc_easy";
  const auto& names = mc_task_names();
  if (std::find(names.begin(), names.end(), task) == names.end())
    throw Error("unknown task '" + task + "' (one of mmlu, winogrande, piqa, openbookqa, hellaswag, "
                "boolq, arc_easy)");
  std::ifstream in(path);
  if (!in) throw Error(path + ": cannot open the " + task + " file");
  std::string line;
  for (int no = 1; std::getline(in, line); ++no) {
    if (strip(line).empty()) continue;
    if (limit > 0 && int64_t(t.docs.size()) >= limit) break;
    auto j = nj::json::parse(line, nullptr, false);
    std::string where = path + ":" + std::to_string(no);
    if (j.is_discarded()) throw Error(where + ": not valid JSON (one object per line)");
    t.docs.push_back(format_mc_doc(task, j, where));
  }
  if (t.docs.empty()) throw Error(path + ": no rows");
  return t;
}

McTokens encode_mc_request(const Tokenizer& tok, const McRequest& r) {
  std::string ctx = r.context, cont = r.continuation;
  size_t keep = ctx.find_last_not_of(' ');
  keep = keep == std::string::npos ? 0 : keep + 1;
  cont = ctx.substr(keep) + cont;
  ctx.resize(keep);
  McTokens t;
  if (ctx.empty()) {
    t.context = {tok.eos_id()};
    t.continuation = tok.encode(cont);
    return t;
  }
  auto whole = tok.encode(ctx + cont);
  t.context = tok.encode(ctx);
  if (t.context.size() < whole.size())
    t.continuation.assign(whole.begin() + t.context.size(), whole.end());
  if (t.continuation.empty()) t.continuation = tok.encode(cont);  // tokenisation merged across
  return t;
}

McMetric mean_stderr(const std::vector<double>& xs) {
  McMetric m;
  if (xs.empty()) return {NAN, NAN};
  for (double x : xs) m.value += x;
  m.value /= double(xs.size());
  if (xs.size() < 2) return {m.value, NAN};
  double ss = 0;
  for (double x : xs) ss += (x - m.value) * (x - m.value);
  m.stderr_ = std::sqrt(ss / double(xs.size() - 1)) / std::sqrt(double(xs.size()));
  return m;
}

McScore score_mc_task(const McTask& task, const std::vector<std::vector<double>>& loglik) {
  if (loglik.size() != task.docs.size()) throw Error(task.name + ": one log-likelihood list per document expected");
  McScore s;
  s.n = int64_t(task.docs.size());
  std::vector<double> acc, acc_norm;
  std::map<std::string, std::vector<double>> by_group;
  for (size_t d = 0; d < task.docs.size(); ++d) {
    const McDoc& doc = task.docs[d];
    const auto& ll = loglik[d];
    if (ll.size() != doc.requests.size()) throw Error(task.name + ": document " + std::to_string(d) + ": wrong choice count");
    // First maximum wins, as numpy.argmax.
    size_t best = 0, best_norm = 0;
    auto norm = [&](size_t c) { return ll[c] / double(std::max<size_t>(1, utf8_length(doc.choices[c]))); };
    for (size_t c = 1; c < ll.size(); ++c) {
      if (ll[c] > ll[best]) best = c;
      if (norm(c) > norm(best_norm)) best_norm = c;
    }
    acc.push_back(int(best) == doc.gold);
    acc_norm.push_back(int(best_norm) == doc.gold);
    if (!doc.group.empty()) by_group[doc.group].push_back(acc.back());
  }
  s.acc = mean_stderr(acc);
  if (task.has_acc_norm) s.acc_norm = mean_stderr(acc_norm);
  for (const auto& [g, xs] : by_group) s.groups[g] = mean_stderr(xs);
  return s;
}

}  // namespace gpas
