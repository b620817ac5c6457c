// The deterministic PBFT simulator (TigerBeetle's VOPR, FoundationDB's simulation): n replicas in
// one thread, a seeded PRNG driving a simulated network and clock, crash/restart against a store
// that keeps only what Persist actions wrote, Byzantine replicas, and checkers after every step.
//
// Every run is a pure function of its options (seed included): a failing seed replays exactly.
#pragma once

#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <queue>
#include <random>
#include <set>
#include <string>
#include <tuple>
#include <unordered_map>
#include <unordered_set>
#include <vector>

#include "consensus/durable.h"
#include "consensus/limits.h"
#include "consensus/messages.h"
#include "consensus/replica.h"
#include "crypto/signer.h"
#include "tests/sim/fake_app.h"

namespace hc::sim {

using consensus::Message;
using consensus::Replica;

enum class Byzantine {
  kNone,
  kSilent,      // sends nothing at all
  kEquivocate,  // as primary: a different PRE-PREPARE to half of the backups
  kDoubleVote,  // PREPARE/COMMIT for a second digest to half of the replicas
  kGarbage,     // corrupts signatures and fields, sends random junk (some of it validly signed),
                // serves junk blocks
  kBadNewView,  // correct, except that as a new primary it sends a NEW-VIEW with a wrong O set
};
std::string_view ByzantineName(Byzantine b);

struct NetworkFaults {
  double drop = 0;
  double duplicate = 0;
  int64_t delay_min_ms = 1;
  int64_t delay_max_ms = 5;
  double reorder = 0;  // probability of an extra delay of up to reorder_extra_ms
  int64_t reorder_extra_ms = 100;
};

struct SimOptions {
  uint32_t n = 4;
  uint64_t seed = 1;
  bool real_sigs = false;
  bool trace = false;
  NetworkFaults faults;
  int64_t client_retry_ms = 1000;
  int64_t clock_skew_max_ms = 20;
  // Replica configuration template (chain id, keys, self and genesis are filled in).
  consensus::Config config = DefaultConfig();

  static consensus::Config DefaultConfig();
};

struct SimStats {
  uint64_t messages = 0;  // delivered or not, one per recipient
  uint64_t bytes = 0;     // approximate wire bytes
  uint64_t events = 0;
  uint64_t max_height = 0;
};

class Simulation {
 public:
  explicit Simulation(SimOptions options);
  ~Simulation();

  // ---- Time and scheduling ----
  int64_t now() const { return now_ms_; }
  void At(int64_t t_ms, std::function<void()> fn);
  // Processes every event up to and including t_ms.
  void RunUntil(int64_t t_ms);
  // Runs until `done()` holds (checked after each event) or the clock passes deadline_ms.
  bool RunUntil(const std::function<bool()>& done, int64_t deadline_ms);

  // ---- Clients ----
  // A client submits a new tx to `node` now, and re-submits it to a random replica every
  // client_retry_ms until some correct replica commits it.
  TxId SubmitTx(uint32_t node, uint32_t size = 0);
  // `count` txs at random times in [from_ms, to_ms], each to a random replica.
  void SubmitTxsSpread(uint32_t count, int64_t from_ms, int64_t to_ms);

  // ---- Faults ----
  // Loses the replica's memory, its mempool and its in-flight messages; keeps its store and ledger
  // unless `wipe` (an empty disk: it must catch up by state transfer).
  void Crash(uint32_t node, bool wipe = false);
  // Crash in the middle of the node's next step: only a random prefix of its actions is applied.
  void CrashDuringNextStep(uint32_t node);
  void Restart(uint32_t node);
  // Only nodes in the same group can talk; nodes in no group are isolated.
  void Partition(const std::vector<std::vector<uint32_t>>& groups);
  void Heal();
  void SetFaults(const NetworkFaults& faults) { options_.faults = faults; }
  void SetByzantine(uint32_t node, Byzantine behaviour);
  void SetExtraDelay(uint32_t node, int64_t extra_ms) { extra_delay_ms_[node] = extra_ms; }
  // Messages for which `drop(from, to, msg)` is true are dropped (scenario tests).
  using LinkFilter = std::function<bool(uint32_t from, uint32_t to, const Message& msg)>;
  void SetLinkFilter(LinkFilter filter) { filter_ = std::move(filter); }
  // Relayed txs for which `drop(from, to, id)` is true are dropped (scenario tests).
  using RelayFilter = std::function<bool(uint32_t from, uint32_t to, const TxId& id)>;
  void SetRelayFilter(RelayFilter filter) { relay_filter_ = std::move(filter); }
  // Called for every message a node emits, before faults (scenario tests watch the protocol).
  using Observer = std::function<void(uint32_t from, const Message& msg)>;
  void SetObserver(Observer observer) { observer_ = std::move(observer); }

  // Delivers `msg` from `from` to `to` in 1 ms, bypassing the sender (a forged or replayed
  // message; scenario tests). The simulator's vote checker does not see it.
  void Inject(uint32_t from, uint32_t to, Message msg);
  // The node's signing key (scenario tests forge what a faulty replica would sign).
  const crypto::Signer& signer(uint32_t node) const { return *nodes_[node].signer; }
  const std::string& chain_id() const { return config_template_.chain_id; }

  // ---- Observers ----
  uint32_t n() const { return options_.n; }
  uint32_t f() const { return config_template_.f(); }
  Replica* replica(uint32_t node) { return nodes_[node].replica.get(); }
  bool up(uint32_t node) const { return nodes_[node].replica != nullptr; }
  const SimLedger& ledger(uint32_t node) const { return nodes_[node].ledger; }
  const consensus::DurableState& store(uint32_t node) const { return nodes_[node].store; }
  bool IsCorrect(uint32_t node) const { return nodes_[node].byzantine == Byzantine::kNone; }
  // Every submitted tx is committed at every correct replica that is up.
  bool AllCommitted() const;
  // The highest view among correct replicas that are up.
  ViewNumber MaxView() const;
  const std::vector<std::string>& violations() const { return violations_; }
  bool ok() const { return violations_.empty(); }
  const SimStats& stats() const { return stats_; }
  size_t submitted() const { return submitted_.size(); }
  std::string Describe() const;  // one line per node: up, view, heights, metrics
  uint64_t TotalSignatureOps() const;
  // Sum of the metrics of the replicas that are up (a restart starts a replica's counters over).
  consensus::Metrics TotalMetrics() const;
  uint64_t TotalCommittedBlocksMax() const;

  // Checks the liveness property: after the faults stopped, every submitted tx commits at every
  // correct replica within `bound_ms` of simulated time. Records a violation if not.
  bool CheckLiveness(int64_t bound_ms);

 private:
  struct Node {
    uint32_t id = 0;
    std::unique_ptr<crypto::Signer> signer;
    SimLedger ledger;               // durable unless wiped
    consensus::DurableState store;  // durable unless wiped: exactly what Persist wrote
    SimMempool mempool;             // volatile
    std::unique_ptr<FakeApp> app;
    std::unique_ptr<Replica> replica;  // null while crashed
    Byzantine byzantine = Byzantine::kNone;
    bool amnesiac = false;  // lost its disk once: may re-vote (counts toward f)
    uint64_t timer_gen = 0;
    int64_t last_tick_ms = -1;
    bool crash_during_next_step = false;
    uint64_t submitted_committed = 0;              // submitted txs in this node's ledger
    std::vector<ExecSummary> executed_unreported;  // reported after the current action vector

    explicit Node(const consensus::Genesis& g) : ledger(g) {}
  };
  struct Event {
    enum class Kind { kDeliver, kTick, kRelay, kCall };
    int64_t t = 0;
    uint64_t seq = 0;
    Kind kind = Kind::kCall;
    uint32_t from = 0;
    uint32_t to = 0;
    uint64_t gen = 0;
    std::shared_ptr<const Message> msg;
    std::shared_ptr<const Bytes> tx;
    TxId tx_id{};
    std::function<void()> fn;
  };
  struct EventOrder {
    bool operator()(const Event& a, const Event& b) const {
      return a.t != b.t ? a.t > b.t : a.seq > b.seq;
    }
  };

  void Schedule(Event e);
  void RunEvent(const Event& e);
  void Process(uint32_t node, consensus::Actions actions, bool top_level = true);
  void Transmit(uint32_t from, uint32_t to, std::shared_ptr<const Message> msg);
  void Enqueue(uint32_t from, uint32_t to, const std::shared_ptr<const Message>& msg);
  void Deliver(uint32_t from, uint32_t to, const std::shared_ptr<const Message>& msg);
  void ServeStateRequest(uint32_t server, uint32_t client, const consensus::StateRequest& req);
  void DoCommit(uint32_t node, const consensus::CertifiedBlock& block,
                const std::vector<consensus::TxId>& tx_ids);
  void Admit(uint32_t node, const TxId& id, const std::shared_ptr<const Bytes>& tx,
             uint32_t relayer);
  void ClientRetry(const TxId& id);
  void TickIfStale(uint32_t node);
  void Tick(uint32_t node);
  bool Connected(uint32_t a, uint32_t b) const;
  int64_t NodeTime(uint32_t node) const { return now_ms_ + clock_skew_ms_[node]; }
  void CheckVote(uint32_t node, const Message& msg);
  void Violation(std::string what);
  void CheckProposalIsFresh(uint32_t node, const consensus::PrePrepare& pp);
  std::vector<std::shared_ptr<const Message>> Mutate(uint32_t from, uint32_t to,
                                                     const std::shared_ptr<const Message>& msg);
  Message RandomGarbage(uint32_t from);
  Message RandomGarbageUnsigned(uint32_t from);
  uint64_t Rand(uint64_t bound) { return bound == 0 ? 0 : rng_() % bound; }
  double RandUnit() { return std::uniform_real_distribution<double>(0, 1)(rng_); }
  void Trace(const std::string& line) const;
  void TraceSend(uint32_t node, const Message& msg) const;

  SimOptions options_;
  consensus::Config config_template_;
  std::mt19937_64 rng_;
  std::unique_ptr<crypto::Verifier> verifier_;
  std::vector<Node> nodes_;
  std::vector<int64_t> clock_skew_ms_;
  std::vector<int64_t> extra_delay_ms_;
  std::vector<int32_t> partition_group_;  // -1: connected to everyone (no partition)
  bool partitioned_ = false;
  LinkFilter filter_;
  RelayFilter relay_filter_;
  Observer observer_;

  int64_t now_ms_ = 0;
  uint64_t event_seq_ = 0;
  std::priority_queue<Event, std::vector<Event>, EventOrder> queue_;

  // Checkers' state.
  std::vector<std::string> violations_;
  std::unordered_map<uint64_t, Hash32> committed_hash_;  // height -> hash (correct replicas)
  std::unordered_map<TxId, std::shared_ptr<const Bytes>, consensus::Hash32Hasher> submitted_;
  std::unordered_set<TxId, consensus::Hash32Hasher> committed_anywhere_;
  std::set<std::tuple<uint32_t, uint64_t, uint64_t>> proposals_checked_;  // (node, view, seq)
  // (node, kind, view, seq) -> digest of every vote a correct replica signed.
  std::unordered_map<std::string, Hash32> votes_;
  uint64_t next_tx_number_ = 0;
  SimStats stats_;
};

// One randomized run of the sweep: faults chosen from the seed, then healing and the liveness
// check. Returns the violations (empty: the run passed).
struct SweepResult {
  bool ok = true;
  std::vector<std::string> violations;
  std::string scenario;  // what the seed chose
  std::string state;     // Describe() at the end
  uint64_t committed_blocks = 0;
  uint64_t txs = 0;
  int64_t sim_ms = 0;
  consensus::Metrics metrics;
};
SweepResult RunRandomScenario(uint64_t seed, uint32_t n, bool real_sigs, bool trace = false);

// The command that replays a sweep seed exactly.
std::string ReplayCommand(uint64_t seed, uint32_t n, bool real_sigs);

}  // namespace hc::sim
