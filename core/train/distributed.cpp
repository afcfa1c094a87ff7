#include "core/train/distributed.h"

#include <torch/csrc/distributed/c10d/ProcessGroupGloo.hpp>
#include <torch/csrc/distributed/c10d/TCPStore.hpp>

#include <cstdlib>
#include <string>

#include "core/common/error.h"

namespace gpas {

namespace {

int env_int(const char* name, int fallback) {
  const char* v = std::getenv(name);
  return v && *v ? std::atoi(v) : fallback;
}

class SingleProcess : public Collective {
 public:
  int rank() const override { return 0; }
  int world() const override { return 1; }
  int local_rank() const override { return 0; }
  void allreduce_sum(std::vector<torch::Tensor>&) override {}
  void barrier() override {}
};

// c10d's Gloo process group. Tensors are packed into one fp64 CPU buffer per call (a step makes
// two calls: the token count, then gradients + loss + stop vote), exact sums of fp32 gradients, and the same code for CPU and CUDA tensors (CUDA tensors
// are staged through the host; an NCCL group is the faster path for GPUs and not wired yet).
// The interface this rank listens on: GLOO_SOCKET_IFNAME as in PyTorch; loopback when the master
// is this machine's loopback (single-node jobs); otherwise the address this host's name resolves
// to. Not MASTER_ADDR itself: a rank on another node cannot bind to the master's address.
std::shared_ptr<::gloo::transport::Device> gloo_device(const std::string& master_addr) {
  if (const char* ifname = std::getenv("GLOO_SOCKET_IFNAME"); ifname && *ifname)
    return c10d::ProcessGroupGloo::createDeviceForInterface(ifname);
  if (master_addr == "localhost" || master_addr.rfind("127.", 0) == 0)
    return c10d::ProcessGroupGloo::createDeviceForHostname(master_addr);
  return c10d::ProcessGroupGloo::createDefaultDevice();
}

class GlooCollective : public Collective {
 public:
  GlooCollective(int rank, int world, int local_rank, const std::string& addr, int port)
      : rank_(rank), world_(world), local_rank_(local_rank) {
    c10d::TCPStoreOptions so;
    so.port = static_cast<uint16_t>(port);
    so.isServer = rank == 0;
    so.numWorkers = world;
    so.timeout = std::chrono::seconds(300);
    store_ = c10::make_intrusive<c10d::TCPStore>(addr, so);
    auto opts = c10d::ProcessGroupGloo::Options::create();
    opts->devices.push_back(gloo_device(addr));
    pg_ = c10::make_intrusive<c10d::ProcessGroupGloo>(store_, rank, world, opts);
  }
  int rank() const override { return rank_; }
  int world() const override { return world_; }
  int local_rank() const override { return local_rank_; }

  void allreduce_sum(std::vector<torch::Tensor>& tensors) override {
    std::vector<torch::Tensor> flat;
    for (auto& t : tensors) flat.push_back(t.detach().reshape({-1}).to(torch::kCPU, torch::kFloat64));
    std::vector<torch::Tensor> buf = {torch::cat(flat)};
    pg_->allreduce(buf)->wait();
    int64_t off = 0;
    torch::NoGradGuard no_grad;
    for (auto& t : tensors) {
      auto part = buf[0].slice(0, off, off + t.numel()).view(t.sizes());
      t.copy_(part.to(t.device(), t.scalar_type()));
      off += t.numel();
    }
  }
  void barrier() override { pg_->barrier()->wait(); }

 private:
  int rank_, world_, local_rank_;
  c10::intrusive_ptr<c10d::Store> store_;
  c10::intrusive_ptr<c10d::ProcessGroupGloo> pg_;
};

}  // namespace

std::unique_ptr<Collective> make_single_process() { return std::make_unique<SingleProcess>(); }

std::unique_ptr<Collective> make_collective_from_env(const torch::Device& device) {
  const int world = env_int("WORLD_SIZE", 1);
  if (world <= 1) return make_single_process();
  const int rank = env_int("RANK", -1);
  if (rank < 0 || rank >= world)
    throw Error("RANK must be set to 0.." + std::to_string(world - 1) + " when WORLD_SIZE is " +
                std::to_string(world));
  const char* addr = std::getenv("MASTER_ADDR");
  const int port = env_int("MASTER_PORT", 29500);
  try {
    return std::make_unique<GlooCollective>(rank, world, env_int("LOCAL_RANK", rank),
                                            addr && *addr ? addr : "127.0.0.1", port);
  } catch (const std::exception& e) {
    throw Error("distributed start-up failed (rank " + std::to_string(rank) + " of " +
                std::to_string(world) + ", MASTER_ADDR " + (addr ? addr : "127.0.0.1") +
                ", MASTER_PORT " + std::to_string(port) + "): " + e.what());
  }
}

}  // namespace gpas
