#include "core/train/distributed.h"

#include <torch/csrc/distributed/c10d/ProcessGroupGloo.hpp>
#include <torch/csrc/distributed/c10d/TCPStore.hpp>
#ifdef USE_C10D_NCCL
#include <torch/csrc/distributed/c10d/ProcessGroupNCCL.hpp>
#endif

#include <algorithm>
#include <chrono>
#include <csignal>
#include <cstdlib>
#include <string>

#include "core/common/error.h"
#include "core/common/launch_env.h"
#include "core/model/compat.h"
#include "core/train/runtime.h"

namespace gpas {

namespace {

// How long a collective may wait for the other ranks before the job fails (a dead rank must not
// hold the others forever): GPAS_DIST_TIMEOUT_S, default 10 minutes.
std::chrono::seconds collective_timeout() {
  return std::chrono::seconds(rendezvous_env().timeout_s);
}

class SingleProcess : public Collective {
 public:
  int rank() const override { return 0; }
  int world() const override { return 1; }
  int local_rank() const override { return 0; }
  std::string backend() const override { return "single"; }
  void allreduce_sum(std::vector<torch::Tensor>&) override {}
  std::function<void()> allreduce_async(torch::Tensor) override { return [] {}; }
  void barrier() override {}
};

// The interface a Gloo rank listens on: GLOO_SOCKET_IFNAME as in PyTorch; loopback when the
// master is this machine's loopback (single-node jobs); otherwise the address this host's name
// resolves to. Not MASTER_ADDR itself: a rank on another node cannot bind to the master's address.
std::shared_ptr<::gloo::transport::Device> gloo_device(const std::string& master_addr) {
  if (const std::string ifname = rendezvous_env().gloo_ifname; !ifname.empty())
    return c10d::ProcessGroupGloo::createDeviceForInterface(ifname);
  if (master_addr == "localhost" || master_addr.rfind("127.", 0) == 0)
    return c10d::ProcessGroupGloo::createDeviceForHostname(master_addr);
  return c10d::ProcessGroupGloo::createDefaultDevice();
}

// One c10d process group (Gloo or NCCL) on a TCPStore. Tensors stay where the group works:
// Gloo reduces host memory (CUDA tensors are staged through it), NCCL reduces device memory.
class C10dCollective : public Collective {
 public:
  C10dCollective(int rank, int world, int local_rank, const std::string& addr, int port,
                 const torch::Device& device, bool nccl)
      : rank_(rank), world_(world), local_rank_(local_rank), device_(device), nccl_(nccl) {
    // A peer that dies closes its sockets; the next write to one raises SIGPIPE, whose default
    // action kills this rank silently (exit 141) before Gloo can report the broken connection.
    // Python ignores SIGPIPE at start-up, so torchrun's ranks never see it; a C++ rank must.
    std::signal(SIGPIPE, SIG_IGN);
    store_ = compat::make_tcp_store(addr, port, rank == 0, world, std::chrono::seconds(300));
#ifdef USE_C10D_NCCL
    if (nccl_) {
      auto opts = c10d::ProcessGroupNCCL::Options::create();
      opts->timeout = collective_timeout();
      pg_ = c10::make_intrusive<c10d::ProcessGroupNCCL>(store_, rank, world, opts);
      return;
    }
#endif
    auto opts = c10d::ProcessGroupGloo::Options::create();
    opts->timeout = collective_timeout();
    opts->devices.push_back(gloo_device(addr));
    pg_ = c10::make_intrusive<c10d::ProcessGroupGloo>(store_, rank, world, opts);
  }
  int rank() const override { return rank_; }
  int world() const override { return world_; }
  int local_rank() const override { return local_rank_; }
  std::string backend() const override { return nccl_ ? "nccl" : "gloo"; }

  void allreduce_sum(std::vector<torch::Tensor>& tensors) override {
    torch::NoGradGuard no_grad;
    const torch::Device where = nccl_ ? device_ : torch::Device(torch::kCPU);
    std::vector<torch::Tensor> flat;
    for (auto& t : tensors) flat.push_back(t.detach().reshape({-1}).to(where, torch::kFloat64));
    std::vector<torch::Tensor> buf = {torch::cat(flat)};
    pg_->allreduce(buf)->wait();
    int64_t off = 0;
    for (auto& t : tensors) {
      t.copy_(buf[0].slice(0, off, off + t.numel()).view(t.sizes()));
      off += t.numel();
    }
  }

  std::function<void()> allreduce_async(torch::Tensor flat) override {
    if (nccl_ || flat.device().is_cpu()) {
      std::vector<torch::Tensor> buf = {flat};
      auto work = pg_->allreduce(buf);
      return [work] { work->wait(); };
    }
    // Gloo with a CUDA tensor: through host memory, then back.
    std::vector<torch::Tensor> buf = {flat.to(torch::kCPU)};
    auto work = pg_->allreduce(buf);
    return [work, buf, flat]() mutable {
      work->wait();
      torch::NoGradGuard no_grad;
      flat.copy_(buf[0]);
    };
  }

  void barrier() override { pg_->barrier()->wait(); }

 private:
  int rank_, world_, local_rank_;
  torch::Device device_;
  bool nccl_;
  c10::intrusive_ptr<c10d::Store> store_;
  c10::intrusive_ptr<compat::ProcessGroupBase> pg_;
};

}  // namespace

std::unique_ptr<Collective> make_single_process() { return std::make_unique<SingleProcess>(); }

std::unique_ptr<Collective> make_collective_from_env(const torch::Device& device) {
  const LaunchEnv env = launch_env();
  const int world = env.world;
  const std::string& want = env.dist_backend;
  // Alone, no group is needed, unless a backend is named: then a group of one runs the same
  // bucketed path as many ranks (a single GPU can check NCCL that way).
  if (world <= 1 && want == "auto") return make_single_process();
  const int rank = env.rank;
  if (rank < 0 || rank >= world)
    throw Error("RANK must be set to 0.." + std::to_string(world - 1) + " when WORLD_SIZE is " +
                std::to_string(world));
  const RendezvousEnv rv = rendezvous_env();
  const std::string& addr = rv.master_addr;
  const int port = rv.master_port;
  if (want == "nccl" && (!device.is_cuda() || !nccl_available()))
    throw Error("GPAS_DIST_BACKEND=nccl needs CUDA ranks and a LibTorch built with NCCL (" +
                std::string(nccl_available() ? "this rank is on the CPU" : "this one has none") + ")");
  const bool nccl = device.is_cuda() && nccl_available() && want != "gloo";
  try {
    return std::make_unique<C10dCollective>(rank, world, env.local_rank >= 0 ? env.local_rank : rank, addr, port,
                                            device, nccl);
  } catch (const std::exception& e) {
    throw Error("distributed start-up failed (rank " + std::to_string(rank) + " of " +
                std::to_string(world) + ", " + (nccl ? "nccl" : "gloo") + ", MASTER_ADDR " +
                addr + ", MASTER_PORT " + std::to_string(port) + "): " + e.what());
  }
}

}  // namespace gpas
