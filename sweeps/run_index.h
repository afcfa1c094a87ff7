// The scheduler's view of the results store (<workdir>/gpas.db): a small interface so tests and
// store-less setups pass NullIndex, and StoreIndex adapts results::Store. Indexing is best effort:
// the run directories are the truth and a failed index write never stops a sweep.
#pragma once
#include <memory>
#include <string>

#include <nlohmann/json.hpp>

#include "sweeps/job.h"

namespace gpas::sweeps {

class RunIndex {
 public:
  virtual ~RunIndex() = default;
  virtual void sweep(const Sweep& s) = 0;                     // the sweep and its spec
  virtual void queued(const Sweep& s, const Job& j) = 0;      // known before it starts
  virtual void ingest(const Sweep& s, const Job& j) = 0;      // copy new journal lines
  virtual void state(const Job& j, const std::string& status, const std::string& error) = 0;
};

class NullIndex : public RunIndex {
 public:
  void sweep(const Sweep&) override {}
  void queued(const Sweep&, const Job&) override {}
  void ingest(const Sweep&, const Job&) override {}
  void state(const Job&, const std::string&, const std::string&) override {}
};

// <workdir>/gpas.db through results::Store; errors become warnings.
std::unique_ptr<RunIndex> open_store_index(const std::string& workdir);

}  // namespace gpas::sweeps
