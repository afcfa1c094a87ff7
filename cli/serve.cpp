// `gpas serve -w DIR [--port P] [--host H]`: a read-only web page of a workdir, on 127.0.0.1 unless
// --host says otherwise: the runs table and loss curves that grow while runs train, runs side by
// side, the tables (report table2 / schemes / table3 / ablations, the same code) and the figures
// `gpas report figures` drew. The page (serve_page.html) and Chart.js are compiled in; the page
// polls the JSON endpoints below. Writes nothing but gpas.db's index refresh; the layout and the
// charts are the page's.
#include <algorithm>
#include <chrono>
#include <filesystem>
#include <iostream>
#include <mutex>
#include <sstream>

#include <CLI/CLI.hpp>

#include "cli/commands.h"
#include "cli/conventions.h"
#include "cli/results_commands.h"
#include "core/common/error.h"
#include "core/common/fs.h"
#include "results/methods.h"
#include "results/reports.h"
#include "results/table3.h"
#include "results/text_output.h"

#if GPAS_SERVE
#include <httplib.h>
#include <sys/socket.h>

#include "serve_assets.h"
#endif

namespace gpas::cli {

namespace {

namespace fs = std::filesystem;
using Json = nlohmann::ordered_json;

struct ServeOptions {
  std::string workdir = ".";
  std::string host = "127.0.0.1";
  int port = 8750;
  std::string figures;  // "" = <workdir>/figures, where `gpas report figures --out` may write them
};

#if GPAS_SERVE

// gpas.db brought up to date with the run journals at most once a second, and the lock every
// request holds while it reads (one SQLite connection, one request at a time).
class Index {
 public:
  explicit Index(const std::string& workdir) : workdir_(workdir), store_(open_store(workdir, false)) {}

  // Called before each answer; returns the lock to hold while reading store().
  std::unique_lock<std::mutex> refresh() {
    std::unique_lock<std::mutex> lock(mu_);
    auto start = Clock::now();
    if (start - last_ >= std::chrono::seconds(1)) {
      try {  // only the journals that grew since: a stat per run otherwise
        skipped_ = store_->sync_workdir(workdir_).skipped;
      } catch (const std::exception& e) {  // the index cannot be written (a full disk): say so, serve it as it is
        skipped_ = {std::string("the index was not brought up to date: ") + e.what()};
      }
      last_ = Clock::now();
      refresh_ms_ = std::chrono::duration<double, std::milli>(last_ - start).count();
    }
    return lock;
  }
  const results::Store& store() const { return *store_; }
  double refresh_ms() const { return refresh_ms_; }
  const std::vector<std::string>& skipped() const { return skipped_; }

 private:
  using Clock = std::chrono::steady_clock;
  std::string workdir_;
  std::unique_ptr<results::Store> store_;
  std::mutex mu_;
  Clock::time_point last_{};
  double refresh_ms_ = 0;
  std::vector<std::string> skipped_;
};

int64_t config_int(const nlohmann::json& config, const std::string& key) {
  std::string v = results::config_text(config, key);
  return v.empty() ? 0 : std::stoll(v);
}

// Seconds to a running run's last step at its latest throughput (train/tokens_per_s); null for
// the others, and before the first throughput is logged.
Json eta_seconds(const results::Store& store, const results::RunRow& r) {
  int64_t steps = config_int(r.config, "train.steps");
  auto tps = store.final_metric(r.id, "train/tokens_per_s");
  if (r.status != "running" || !tps || *tps <= 0 || r.last_step < 0 || steps <= r.last_step) return nullptr;
  int64_t tokens = config_int(r.config, "train.batch_size") * config_int(r.config, "train.seq_len");
  return static_cast<double>((steps - r.last_step) * tokens) / *tps;
}

// `gpas runs list --json`'s rows, each with its step target and ETA.
Json runs_json(Index& index, const std::string& workdir) {
  auto lock = index.refresh();
  const auto& store = index.store();
  auto runs = store.list_runs();
  Json rows = Json::parse(results::format_runs(store, runs, true));
  for (size_t i = 0; i < runs.size(); ++i) {
    rows[i]["steps"] = config_int(runs[i].config, "train.steps");
    rows[i]["eta_s"] = eta_seconds(store, runs[i]);
  }
  return {{"workdir", fs::absolute(workdir).lexically_normal().string()},
          {"refresh_ms", index.refresh_ms()}, {"skipped", index.skipped()}, {"runs", rows}};
}

// The paper's tables, each the text `gpas report NAME --format F` prints.
std::string table_text(const results::Store& store, const std::string& name, const std::string& format) {
  if (name == "table2") return results::report_table2(store, {}, format);
  if (name == "schemes") return results::report_schemes(store, {}, format);
  if (name == "ablations") {
    std::string t = results::report_ablations(store, {}, format);
    if (t.empty()) throw Error("no ablation runs (GPAS variants of Pre-LN at 350m) in the store");
    return t;
  }
  if (name == "table3") return results::render(results::table3_table(store, {}), format);
  throw Error("no table '" + name + "': table2, schemes, table3 or ablations");
}

void send_json(httplib::Response& res, const Json& j, int status = 200) {
  res.status = status;
  res.set_content(j.dump(), "application/json");
}

std::vector<results::RunRow> runs_named(const results::Store& store, const std::string& ids) {
  std::vector<results::RunRow> runs;
  std::stringstream in(ids);
  for (std::string ref; std::getline(in, ref, ',');) {
    auto r = store.find_run(ref);
    if (!r) throw Error("no run '" + ref + "'");
    runs.push_back(*r);
  }
  return runs;
}

void add_routes(httplib::Server& svr, Index& index, const ServeOptions& o) {
  svr.Get("/", [](const httplib::Request&, httplib::Response& res) {
    res.set_content(assets::kPage, "text/html; charset=utf-8");
  });
  svr.Get("/chart.js", [](const httplib::Request&, httplib::Response& res) {
    res.set_content(assets::kChartJs, "text/javascript");
  });
  svr.Get("/api/runs", [&](const httplib::Request&, httplib::Response& res) {
    send_json(res, runs_json(index, o.workdir));
  });
  // Without ?key=, the run's metric keys.
  svr.Get(R"(/api/runs/([^/]+)/metrics)", [&](const httplib::Request& req, httplib::Response& res) {
    auto lock = index.refresh();
    auto run = runs_named(index.store(), req.matches[1]).at(0);
    if (!req.has_param("key")) return send_json(res, {{"id", run.id}, {"keys", index.store().metric_keys(run.id)}});
    Json steps = Json::array(), values = Json::array();
    for (const auto& p : index.store().metric_series(run.id, req.get_param_value("key")))
      steps.push_back(p.step), values.push_back(p.value);  // NaN/Inf: null
    send_json(res, {{"id", run.id}, {"key", req.get_param_value("key")}, {"steps", steps}, {"values", values}});
  });
  // The config keys that differ between the runs (as `gpas runs compare`), one value per run.
  svr.Get("/api/compare", [&](const httplib::Request& req, httplib::Response& res) {
    auto lock = index.refresh();
    auto runs = runs_named(index.store(), req.get_param_value("ids"));
    Json j = {{"runs", Json::array()}, {"config", Json::object()}};
    for (const auto& r : runs)
      j["runs"].push_back({{"id", r.id}, {"name", r.name}, {"status", r.status}, {"method", results::method_of(r.config)}});
    for (const auto& row : config_rows(index.store(), runs, false))
      j["config"][row[0]] = std::vector<std::string>(row.begin() + 1, row.end());
    send_json(res, j);
  });
  // ?format=md (default) | text | html | csv | latex | json.
  svr.Get(R"(/api/tables/([a-z0-9]+))", [&](const httplib::Request& req, httplib::Response& res) {
    std::string format = req.has_param("format") ? req.get_param_value("format") : "md";
    auto lock = index.refresh();
    std::string text = table_text(index.store(), req.matches[1], format);
    res.set_content(text, format == "html" ? "text/html; charset=utf-8"
                          : format == "json" ? "application/json" : "text/plain; charset=utf-8");
  });
  std::string figures = o.figures.empty() ? (fs::path(o.workdir) / "figures").string() : o.figures;
  svr.Get("/api/figures", [figures](const httplib::Request&, httplib::Response& res) {
    std::vector<std::string> files;
    std::error_code ec;
    for (const auto& e : fs::directory_iterator(figures, ec))
      if (e.path().extension() == ".png" || e.path().extension() == ".svg") files.push_back(e.path().filename());
    std::sort(files.begin(), files.end());
    send_json(res, {{"dir", fs::absolute(figures).lexically_normal().string()}, {"files", files}});
  });
  svr.Get(R"(/figures/([A-Za-z0-9_.-]+\.(png|svg)))", [figures](const httplib::Request& req, httplib::Response& res) {
    res.set_content(read_file((fs::path(figures) / req.matches[1].str()).string()),
                    req.matches[2] == "png" ? "image/png" : "image/svg+xml");
  });
  // A gpas::Error: a bad parameter (400) or a missing thing (404), with its message; else 500.
  svr.set_exception_handler([](const httplib::Request&, httplib::Response& res, std::exception_ptr ep) {
    try {
      std::rethrow_exception(ep);
    } catch (const Error& e) {
      send_json(res, {{"error", e.what()}}, e.exit_code() == kExitUsage ? 400 : 404);
    } catch (const std::exception& e) {
      send_json(res, {{"error", e.what()}}, 500);
    }
  });
}

void run_serve(const ServeOptions& o) {
  if (!fs::is_directory(o.workdir))
    throw Error(o.workdir + ": no such directory; give the workdir of your runs with -w");
  Index index(o.workdir);
  httplib::Server svr;
  // SO_REUSEADDR but not httplib's SO_REUSEPORT, which lets a second server share the port.
  svr.set_socket_options([](socket_t sock) {
    int yes = 1;
    ::setsockopt(sock, SOL_SOCKET, SO_REUSEADDR, &yes, sizeof yes);
  });
  add_routes(svr, index, o);
  int port = o.port;
  if (port == 0 ? (port = svr.bind_to_any_port(o.host)) < 0 : !svr.bind_to_port(o.host, port))
    throw Error("cannot listen on " + o.host + ":" + std::to_string(o.port) +
                ": the port is in use, or " + o.host + " is not an address of this machine; pick another " +
                "port (--port " + std::to_string(o.port + 1) + ", or --port 0 for any free one) or stop " +
                "the program that holds it (`ss -ltnp 'sport = :" + std::to_string(o.port) + "'` names it)");
  std::cout << "gpas serve: http://" << o.host << ":" << port << "/ (workdir " << o.workdir
            << ", read-only; Ctrl-C stops)" << std::endl;
  if (!svr.listen_after_bind()) throw Error("the server on " + o.host + ":" + std::to_string(port) + " stopped");
}

#else

void run_serve(const ServeOptions&) {
  throw Error("this gpas was built without `gpas serve`: install libcpp-httplib-dev and libjs-chart.js "
              "(scripts/install-deps.sh) and build it again");
}

#endif

}  // namespace

void setup_serve(CLI::App& app) {
  auto o = std::make_shared<ServeOptions>();
  auto* cmd = app.add_subcommand("serve", "A local, read-only web page of the workdir: runs (live), "
                                          "loss curves, comparisons, the paper's tables and figures");
  add_workdir(cmd, o->workdir);
  cmd->add_option("--port", o->port, "TCP port (0: any free one, printed)")->capture_default_str()
      ->check(CLI::Range(0, 65535));
  cmd->add_option("--host", o->host, "address to listen on; 0.0.0.0 shows the page to the whole network")
      ->capture_default_str();
  cmd->add_option("--figures", o->figures, "directory of `gpas report figures` output (default: <workdir>/figures)");
  cmd->callback([o] { run_serve(*o); });
}

}  // namespace gpas::cli
