// Rendezvous: how the node agents of an elastic job agree, round after
// round, on who takes part and which global ranks each one runs.
//
// A round (generation g = 0, 1, 2, ...) forms when between min_nodes and
// max_nodes agents have joined it; it runs until it ends: a failure is
// reported, a membership change is requested (spares are waiting), or the
// job is closed. Every agent of an ended round then calls next_round() again
// and round g+1 forms from whoever comes. Ranks are deterministic: nodes
// that ask for a group rank (AgentInfo::node_rank) come first, by it; then
// members of the latest round keep their relative order (a survivor never
// moves ahead of another survivor), newcomers and spares follow in arrival
// order, and each member's workers take the next local_world_size global
// ranks.
//
// Protocol (all keys under options.prefix; docs/elastic.md "Rendezvous"):
//   current            the open (or running) generation; moved from g to g+1
//                      by compare_set when round g ends
//   g<g>/tickets       add(1) by each joining agent: its arrival ticket k
//   g<g>/slot/<k>      compare_set("" -> the agent's JSON) by ticket k's agent,
//                      or ("" -> "-") by a closer that gave up on it
//   g<g>/closed        compare_set("" -> N) by the first agent to close the
//                      round: tickets 1..N take part; "aborted" by close_job
//   g<g>/closer        the id of the agent that closed the round
//   g<g>/members       compare_set("" -> list) of the chosen members, by the
//                      closer (any agent computes the same list from the same
//                      slots, and does when the closer's lease stops)
//   g<g>/over          set when the round ends (why: failure, membership,
//                      rejoin, void, job closed); spares wait on it
//   g<g>/failure       the first failure report (compare_set); failure_count
//   g<g>/membership    set by request_membership_change
//   g<g>/done          add(1) by each member whose workers all succeeded
//   g<g>/master        MASTER_ADDR:MASTER_PORT of the round (rank 0's own
//                      store, e.g. torch's TCPStore), set by the member of
//                      group rank 0 (publish_master)
//   failures           job-wide count of failed rounds (add)
//   lease/<id>         bumped by keep_alive (add)
//   agents, agent/<k>  every agent that ever joined: add(1) gives k, then
//                      agent/<k> = its id (once, on its first next_round)
//   lost/<id>          set by whoever found the agent's lease stopped
//   outcome            set once by close_job
//   seen/<id>          set by an agent that learned the outcome, before it
//                      exits: the store's host waits for these (or for the
//                      agent's loss) before it takes the store down
// The agent holding ticket 1 watches the ticket count and closes the round:
// at once when max_nodes have come; when at least min_nodes have and no new
// one arrived for last_call (or max_last_call passed since min was
// reached). The others block on `closed`; when the ticket-1 agent's lease
// stops moving they watch and close too, and compare_set on `closed` lets
// exactly one close win. The closer waits briefly for every ticket up to N
// to claim its slot, voids those that did not (that agent is then a spare),
// and publishes the members; a round left with fewer than min_nodes valid
// slots is void and everyone moves on to g+1. The closer of round g deletes
// the keys of round g-2, so the store holds two rounds whatever the number
// of restarts.
//
// Cost: a joining agent makes a constant number of store operations per
// round (ticket, slot, a wait on `closed`, one read of `members`); the
// closer makes O(N) (a wait on N slots and one compare_set each). While a
// round runs, each agent's monitor makes a constant number per interval:
// its lease, one check of `over`, one lease it watches (lost_members) and
// the ticket count. docs/elastic.md "Scale" has the measurements.
//
// Thread-safety: one Rendezvous belongs to one agent; its methods may be
// called from several threads (the store is thread-safe; the lease
// bookkeeping has a mutex), but next_round() must not run twice at once.
// Store errors (Unavailable, Timeout, PeerFailure) propagate unchanged:
// the agent treats them as a lost store. After any error the Rendezvous may
// be used again: it holds no half-done state besides the store's keys.
#pragma once

#include <atomic>
#include <chrono>
#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <nlohmann/json.hpp>
#include <optional>
#include <string>
#include <vector>

#include "runtime/store.h"

namespace myriad::elastic {

// How long next_round() waits for min_nodes agents.
inline constexpr std::chrono::milliseconds kDefaultJoinTimeout{600'000};
// Once min_nodes have come, a round closes after this long without a new
// arrival: enough for agents started together to all arrive, short enough
// not to matter on a restart.
inline constexpr std::chrono::milliseconds kDefaultLastCall{500};
// ... but no later than this after min_nodes came, however agents trickle in.
inline constexpr std::chrono::milliseconds kDefaultMaxLastCall{30'000};
// An agent whose lease has not moved for this long is lost (agents bump it
// every monitor interval, about a second).
inline constexpr std::chrono::milliseconds kDefaultLeaseTimeout{5'000};
// How often the closer reads the ticket count.
inline constexpr std::chrono::milliseconds kDefaultPollInterval{100};

struct AgentInfo {
  std::string id;  // unique per agent (e.g. host:pid:random)
  std::string host;
  int local_world_size = 1;
  // The group rank this node asks for (torchrun's --node-rank under its
  // static rendezvous); -1: none. Nodes that ask come first, by it.
  int node_rank = -1;
};

struct RendezvousOptions {
  std::string prefix;  // key namespace, e.g. "rdzv/<rdzv id>/"
  int min_nodes = 1, max_nodes = 1;
  std::chrono::milliseconds join_timeout{kDefaultJoinTimeout};    // how long to wait for MIN agents
  std::chrono::milliseconds last_call{kDefaultLastCall};          // quiet time that closes a round above MIN
  std::chrono::milliseconds lease_timeout{kDefaultLeaseTimeout};  // a lease still this long is lost
  std::chrono::milliseconds poll_interval{kDefaultPollInterval};
  std::chrono::milliseconds max_last_call{kDefaultMaxLastCall};  // longest last call after MIN came
};

struct Round {
  int64_t generation = 0;
  std::vector<AgentInfo> members;  // group-rank order
  int group_rank = -1;             // this agent's place
  int world_size = 0;              // sum of the members' local_world_size
  int rank_offset = 0;             // this agent's first global rank
};

class Rendezvous {
 public:
  // Throws Error(InvalidArgument) for min/max outside 1 <= min <= max, an
  // empty agent id or a local_world_size below 1.
  Rendezvous(std::shared_ptr<Store> store, RendezvousOptions options, AgentInfo self);

  // Joins the next round (the first call: whichever round is open; later
  // calls: the round after this agent's last one) and blocks until a round
  // forms with this agent as a member. An agent that is not taken (the round
  // had max_nodes already) waits inside this call as a hot spare until that
  // round ends, then joins the next. Throws Error(Timeout) naming the
  // generation and how many agents came of how many needed when min_nodes do
  // not come within join_timeout; Error(Unavailable) when the job was closed
  // (close_job) meanwhile.
  Round next_round();

  // Publishes the failure of `generation` and ends it. The first report
  // wins; the winning report is returned with "failure_count" (the job-wide
  // count of failed rounds, this one included) added, so every agent learns
  // the root cause.
  nlohmann::json report_failure(int64_t generation, const nlohmann::json& failure);
  // The winning failure report of `generation`, if any (one store check).
  std::optional<nlohmann::json> failure(int64_t generation);
  // The job-wide count of failed rounds.
  int64_t failure_count();
  // The count as of `generation`'s failure, once its winner has published it
  // (the failure is visible a moment before the count: read after failure()).
  int64_t failure_count(int64_t generation);

  // This agent's workers of `generation` all succeeded (counted once per
  // round, however often it is called).
  void report_done(int64_t generation);
  // Every member of `round` reported done (one counter read).
  bool all_done(const Round& round);
  // `generation` has ended, for whatever reason: a failure, a membership
  // change, a rejoin or the job's end (one store check; what ended it is
  // read with failure(), membership_change_requested() and job_outcome()).
  bool round_over(int64_t generation);

  // The round's MASTER_ADDR:MASTER_PORT: rank 0's host and a port free
  // there, set once by the member of group rank 0 before its ranks start.
  void publish_master(int64_t generation, const std::string& endpoint);
  // The published endpoint, waiting for it up to `wait` (one blocking get,
  // woken by the set); nullopt when it is not set by then.
  std::optional<std::string> master(int64_t generation, std::chrono::milliseconds wait);

  // Bumps this agent's lease (call every monitor interval).
  void keep_alive();
  // Members of `round` that this agent watches and whose lease has not moved
  // for lease_timeout, as observed by this agent's clock across calls: call
  // it every monitor interval. No clock synchronization is needed. An agent
  // watches the members after it in group order (wrapping around) up to the
  // first live one, so a call costs one lease read while all live, whatever
  // the job's size; every lost member has a live watcher unless all are
  // lost. Each one found is also marked lost in the store (lost/<id>); the
  // caller ends the round (report_failure), which is how the others learn.
  std::vector<AgentInfo> lost_members(const Round& round);

  // Agents waiting to join (spares, and agents that arrived after this
  // agent's latest round closed). A round below max_nodes may re-form to
  // take them (request_membership_change: not a failure).
  int waiting_agents();
  // Ends `generation` without a failure.
  void request_membership_change(int64_t generation);
  bool membership_change_requested(int64_t generation);

  // The job ended (success or failure): agents waiting in next_round(),
  // spares included, return with Error(Unavailable). The first outcome wins.
  void close_job(const nlohmann::json& outcome);
  std::optional<nlohmann::json> job_outcome();
  // This agent learned the outcome (job_outcome found one, or it closed the job).
  bool outcome_seen() const { return outcome_seen_; }
  // Tells the store's host that this agent knows the job ended and needs the store no more.
  void acknowledge_outcome();
  // For the process that hosts the store: waits until every agent that ever
  // joined has acknowledged the outcome, is known lost, has exited (`exited`
  // says so of its id: the caller's own agents it has waited for), or has a
  // lease that stays still for lease_timeout; at most `bound`. An agent
  // between two looks at the store (a spare, or a node whose ranks finished
  // first) would otherwise find the store gone and fail a job that
  // succeeded. Returns the ids of the agents still alive and unaware at the
  // bound.
  std::vector<std::string> await_outcome_seen(std::chrono::milliseconds bound,
                                              const std::function<bool(const std::string&)>& exited);

  const AgentInfo& self() const { return self_; }
  const RendezvousOptions& options() const { return options_; }

 private:
  struct Ticket {
    int64_t generation = 0;
    int64_t number = 0;
  };
  struct Formed {
    bool is_void = false;
    std::vector<AgentInfo> members;
    int64_t closed_at = 0;  // N: tickets 1..N took part
    int spares = 0;         // tickets up to N that were not taken
  };

  std::string key(const std::string& name) const;
  std::string gen_key(int64_t generation, const std::string& name) const;
  int64_t current_generation();
  void end_round(int64_t generation, const std::string& why);
  Ticket take_ticket(int64_t generation);
  // Waits until `generation` is closed (closing it when this agent should);
  // returns N (closed_here: this agent's compare_set closed it), or throws
  // Timeout / Unavailable.
  int64_t await_closed(const Ticket& ticket, std::chrono::steady_clock::time_point deadline,
                       bool& closed_here);
  // Closes `generation` with the count seen; returns the winning N.
  std::optional<int64_t> try_close(int64_t generation, int64_t count);
  // The published members of a closed round (publishing them when this
  // agent closed it, or when nobody did within lease_timeout).
  Formed members_of(int64_t generation, int64_t closed_at, bool closed_here);
  // The published member list, waiting for the closer while its lease moves
  // and computing the list in its place when it stops.
  std::string await_members(int64_t generation, int64_t closed_at);
  // Computes the members and publishes them unless another agent did;
  // returns the published value.
  std::string publish_members(int64_t generation, int64_t closed_at);
  Formed compute_members(int64_t generation, int64_t closed_at);
  // Blocks while `generation` runs (this agent is a spare).
  void wait_round_over(int64_t generation);
  [[noreturn]] void throw_closed(int64_t generation);
  [[noreturn]] void throw_join_timeout(int64_t generation, int64_t count);
  int64_t read_counter(const std::string& full_key);

  std::shared_ptr<Store> store_;
  RendezvousOptions options_;
  AgentInfo self_;

  std::atomic<bool> outcome_seen_{false};
  std::once_flag registered_;  // agents / agent/<k> written

  std::mutex mutex_;  // guards what follows
  std::optional<Round> last_round_;
  std::optional<Formed> last_formed_;
  // A lease as this agent's clock saw it: the last value read and when it last moved.
  struct LeaseSeen {
    int64_t value = -1;  // below any counter: the first read counts as a move
    std::chrono::steady_clock::time_point changed;
    // Records the value read at `now`; true when it has stood still for `timeout`.
    bool stopped(int64_t read, std::chrono::steady_clock::time_point now,
                 std::chrono::steady_clock::duration timeout) {
      if (read != value) {
        value = read;
        changed = now;
      }
      return now - changed >= timeout;
    }
  };
  int64_t done_generation_ = -1;  // the round report_done counted this agent in
  int64_t leases_generation_ = -1;
  std::map<std::string, LeaseSeen> leases_;
};

}  // namespace myriad::elastic
