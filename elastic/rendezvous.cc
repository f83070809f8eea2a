#include "elastic/rendezvous.h"

#include <algorithm>
#include <climits>
#include <thread>
#include <tuple>

#include "runtime/error.h"
#include "runtime/logging.h"

namespace myriad::elastic {
namespace {

using Clock = std::chrono::steady_clock;
using json = nlohmann::json;
using std::chrono::milliseconds;

constexpr std::string_view kVoidSlot = "-";
constexpr std::string_view kAborted = "aborted";
// At most this many agent ids are named in a join-timeout message.
constexpr int64_t kMaxNamedAgents = 16;

json agent_json(const AgentInfo& agent) {
  json j{{"id", agent.id}, {"host", agent.host}, {"local_world_size", agent.local_world_size}};
  if (agent.node_rank >= 0) j["node_rank"] = agent.node_rank;
  return j;
}

AgentInfo agent_from_json(const json& j) {
  return AgentInfo{.id = j.at("id").get<std::string>(),
                   .host = j.at("host").get<std::string>(),
                   .local_world_size = j.at("local_world_size").get<int>(),
                   .node_rank = j.value("node_rank", -1)};
}

milliseconds until(Clock::time_point deadline) {
  return std::max(milliseconds(0), std::chrono::duration_cast<milliseconds>(deadline - Clock::now()));
}

bool is_timeout(const Error& e) {
  return e.code() == ErrorCode::Timeout;
}

// A value this protocol wrote; anything else in the key is corruption.
json parse_value(const std::string& key, const std::string& text) {
  try {
    return json::parse(text);
  } catch (const json::exception& e) {
    raise(ErrorCode::Corruption, "rendezvous: key {} holds '{}', not JSON: {}", key, text, e.what());
  }
}

int64_t parse_count(const std::string& key, const std::string& text) {
  try {
    return std::stoll(text);
  } catch (const std::exception&) {
    raise(ErrorCode::Corruption, "rendezvous: key {} holds '{}', not a number", key, text);
  }
}

}  // namespace

Rendezvous::Rendezvous(std::shared_ptr<Store> store, RendezvousOptions options, AgentInfo self)
    : store_(std::move(store)), options_(std::move(options)), self_(std::move(self)) {
  if (options_.min_nodes < 1 || options_.max_nodes < options_.min_nodes) {
    raise(ErrorCode::InvalidArgument, "rendezvous {}: nodes {}:{}; need 1 <= MIN <= MAX", options_.prefix,
          options_.min_nodes, options_.max_nodes);
  }
  if (self_.id.empty()) raise(ErrorCode::InvalidArgument, "rendezvous {}: empty agent id", options_.prefix);
  if (self_.local_world_size < 1) {
    raise(ErrorCode::InvalidArgument, "rendezvous {}: agent {} runs {} workers; need at least 1",
          options_.prefix, self_.id, self_.local_world_size);
  }
  MYRIAD_CHECK(store_ != nullptr);
}

std::string Rendezvous::key(const std::string& name) const {
  return options_.prefix + name;
}

std::string Rendezvous::gen_key(int64_t generation, const std::string& name) const {
  return fmt::format("{}g{}/{}", options_.prefix, generation, name);
}

int64_t Rendezvous::read_counter(const std::string& full_key) {
  return store_->add(full_key, 0);
}

int64_t Rendezvous::current_generation() {
  std::string current = key("current");
  if (!store_->check({current})) return 0;
  return parse_count(current, store_->get(current, options_.lease_timeout));
}

void Rendezvous::end_round(int64_t generation, const std::string& why) {
  store_->compare_set(gen_key(generation, "over"), "", why);
  // Round g ends at most once, so current moves from g to g+1 at most once;
  // a late caller's compare_set finds it moved and changes nothing.
  std::string from = generation == 0 ? std::string() : std::to_string(generation);
  store_->compare_set(key("current"), from, std::to_string(generation + 1));
}

Rendezvous::Ticket Rendezvous::take_ticket(int64_t generation) {
  Ticket ticket{generation, store_->add(gen_key(generation, "tickets"), 1)};
  json slot = agent_json(self_);
  {
    std::lock_guard lock(mutex_);
    if (last_round_) {
      slot["prev_generation"] = last_round_->generation;
      slot["prev_rank"] = last_round_->group_rank;
    }
  }
  std::string mine = slot.dump();
  std::string held =
      store_->compare_set(gen_key(generation, fmt::format("slot/{}", ticket.number)), "", mine);
  if (held != mine) {
    MYRIAD_LOG_WARN(
        "rendezvous {}: agent {} was too slow to claim ticket {} of generation {}; it waits as a spare",
        options_.prefix, self_.id, ticket.number, generation);
  }
  return ticket;
}

std::optional<int64_t> Rendezvous::try_close(int64_t generation, int64_t count) {
  std::string closed_key = gen_key(generation, "closed");
  std::string held = store_->compare_set(closed_key, "", std::to_string(count));
  if (held == kAborted) return std::nullopt;
  return parse_count(closed_key, held);
}

int64_t Rendezvous::await_closed(const Ticket& ticket, Clock::time_point deadline, bool& closed_here) {
  closed_here = false;
  const int64_t g = ticket.generation;
  const std::string closed_key = gen_key(g, "closed");
  const std::string tickets_key = gen_key(g, "tickets");
  auto closed_value = [&]() -> std::optional<int64_t> {
    if (!store_->check({closed_key})) return std::nullopt;
    std::string held = store_->get(closed_key, options_.lease_timeout);
    if (held == kAborted) throw_closed(g);
    return parse_count(closed_key, held);
  };

  // The agent with ticket 1 closes the round; the others wait on `closed`
  // and take over only when ticket 1's lease stops moving.
  bool closer = ticket.number == 1;
  std::string closer_lease;
  int64_t closer_seen = -1;
  Clock::time_point last_bump = Clock::now();
  int64_t last_count = -1;
  Clock::time_point last_change = Clock::now();
  std::optional<Clock::time_point> min_reached;
  for (;;) {
    if (!closer) {
      try {
        store_->wait({closed_key}, std::clamp(until(deadline), milliseconds(1), options_.lease_timeout));
      } catch (const Error& e) {
        if (!is_timeout(e)) throw;
      }
      if (std::optional<int64_t> n = closed_value()) return *n;
      if (job_outcome()) throw_closed(g);
      if (Clock::now() >= deadline) throw_join_timeout(g, read_counter(tickets_key));
      keep_alive();
      if (closer_lease.empty()) {
        std::string slot1 = gen_key(g, "slot/1");
        std::string first = store_->check({slot1}) ? store_->get(slot1, options_.lease_timeout) : "";
        if (first.empty() || first == kVoidSlot) {
          closer = true;
          continue;
        }
        closer_lease = key("lease/" + parse_value(slot1, first).at("id").get<std::string>());
      }
      int64_t seen = read_counter(closer_lease);
      if (seen == closer_seen) {
        MYRIAD_LOG_WARN("rendezvous {}: generation {}: the closing agent's lease {} stopped; agent {} closes",
                        options_.prefix, g, closer_lease, self_.id);
        closer = true;
      }
      closer_seen = seen;
      continue;
    }

    if (std::optional<int64_t> n = closed_value()) return *n;
    Clock::time_point now = Clock::now();
    if (now - last_bump >= options_.lease_timeout / 4) {
      keep_alive();
      if (job_outcome()) throw_closed(g);
      last_bump = now;
    }
    int64_t count = read_counter(tickets_key);
    if (count != last_count) {
      last_count = count;
      last_change = now;
    }
    if (count >= options_.min_nodes && !min_reached) min_reached = now;
    bool close = count >= options_.max_nodes ||
                 (min_reached &&
                  (now - last_change >= options_.last_call || now - *min_reached >= options_.max_last_call));
    if (close) {
      std::optional<int64_t> n = try_close(g, count);
      if (!n) throw_closed(g);
      closed_here = *n == count;
      return *n;
    }
    if (!min_reached && now >= deadline) throw_join_timeout(g, count);
    std::this_thread::sleep_for(options_.poll_interval);
  }
}

Rendezvous::Formed Rendezvous::compute_members(int64_t generation, int64_t closed_at) {
  std::vector<std::string> keys;
  for (int64_t k = 1; k <= closed_at; ++k) keys.push_back(gen_key(generation, fmt::format("slot/{}", k)));
  // An agent claims its slot right after taking its ticket; give the ones
  // still on their way that long, then void whoever has not come (that agent
  // finds "-" in its slot and waits as a spare).
  try {
    store_->wait(keys, options_.lease_timeout);
  } catch (const Error& e) {
    if (!is_timeout(e)) throw;
  }
  struct Entry {
    int64_t prev_generation;
    int prev_rank;
    int64_t ticket;
    AgentInfo agent;
  };
  std::vector<Entry> entries;
  Clock::time_point bumped = Clock::now();
  for (int64_t k = 1; k <= closed_at; ++k) {
    if (Clock::now() - bumped >= options_.lease_timeout / 4) {
      keep_alive();  // the others take over only when this lease stops
      bumped = Clock::now();
    }
    // Get-or-void in one step: returns the claim, or voids the slot for good.
    std::string held = store_->compare_set(keys[static_cast<size_t>(k - 1)], "", kVoidSlot);
    if (held == kVoidSlot) continue;
    json slot = parse_value(keys[static_cast<size_t>(k - 1)], held);
    entries.push_back(Entry{slot.value("prev_generation", int64_t{-1}), slot.value("prev_rank", -1), k,
                            agent_from_json(slot)});
  }
  // Nodes that asked for a group rank (--node-rank) first, by it; then
  // members of the latest round, in their old order; then everyone else in
  // arrival order. Every agent computes the same order.
  std::stable_sort(entries.begin(), entries.end(), [](const Entry& a, const Entry& b) {
    auto asked = [](const Entry& e) { return e.agent.node_rank < 0 ? INT_MAX : e.agent.node_rank; };
    return std::make_tuple(asked(a), -a.prev_generation, a.prev_rank, a.ticket) <
           std::make_tuple(asked(b), -b.prev_generation, b.prev_rank, b.ticket);
  });
  Formed formed;
  formed.closed_at = closed_at;
  formed.is_void = static_cast<int>(entries.size()) < options_.min_nodes;
  if (!formed.is_void) {
    size_t taken = std::min(entries.size(), static_cast<size_t>(options_.max_nodes));
    for (size_t i = 0; i < taken; ++i) formed.members.push_back(entries[i].agent);
    formed.spares = static_cast<int>(entries.size() - taken);
  }
  return formed;
}

std::string Rendezvous::publish_members(int64_t generation, int64_t closed_at) {
  Formed formed = compute_members(generation, closed_at);
  json list = json::array();
  for (const AgentInfo& agent : formed.members) list.push_back(agent_json(agent));
  json value{
      {"void", formed.is_void}, {"closed_at", closed_at}, {"spares", formed.spares}, {"members", list}};
  return store_->compare_set(gen_key(generation, "members"), "", value.dump());
}

std::string Rendezvous::await_members(int64_t generation, int64_t closed_at) {
  const std::string members_key = gen_key(generation, "members");
  const std::string closer_key = gen_key(generation, "closer");
  std::string closer_lease;
  int64_t closer_seen = -1;
  for (;;) {
    try {
      return store_->get(members_key, options_.lease_timeout);
    } catch (const Error& e) {
      if (!is_timeout(e)) throw;
    }
    // The closer reads every slot, bumping its lease as it goes; only when
    // that lease stands still (or nobody says who closed) does this agent
    // compute the list itself. Every agent computes the same list, so
    // whichever publishes first publishes what the closer would have.
    keep_alive();
    if (closer_lease.empty() && store_->check({closer_key})) {
      closer_lease = key("lease/" + store_->get(closer_key, options_.lease_timeout));
    }
    int64_t seen = closer_lease.empty() ? closer_seen : read_counter(closer_lease);
    if (seen == closer_seen) {
      MYRIAD_LOG_WARN(
          "rendezvous {}: generation {}: no member list from the closing agent within {} ms; "
          "agent {} computes it",
          options_.prefix, generation, options_.lease_timeout.count(), self_.id);
      return publish_members(generation, closed_at);
    }
    closer_seen = seen;
  }
}

Rendezvous::Formed Rendezvous::members_of(int64_t generation, int64_t closed_at, bool closed_here) {
  const std::string members_key = gen_key(generation, "members");
  std::string held;
  if (closed_here) {
    store_->set(gen_key(generation, "closer"), self_.id);
    held = publish_members(generation, closed_at);
    // Nobody reads the keys of the round before last any more: its members
    // have moved on twice, and its spares were released when it ended.
    if (generation >= 2) store_->delete_prefix(gen_key(generation - 2, ""));
  } else {
    held = await_members(generation, closed_at);
  }
  json value = parse_value(members_key, held);
  Formed formed;
  formed.is_void = value.at("void").get<bool>();
  formed.closed_at = value.at("closed_at").get<int64_t>();
  formed.spares = value.at("spares").get<int>();
  for (const json& agent : value.at("members")) formed.members.push_back(agent_from_json(agent));
  if (formed.is_void) end_round(generation, "void");
  return formed;
}

void Rendezvous::wait_round_over(int64_t generation) {
  const std::string over_key = gen_key(generation, "over");
  for (;;) {
    try {
      store_->wait({over_key}, options_.lease_timeout);
      return;
    } catch (const Error& e) {
      if (!is_timeout(e)) throw;
    }
    if (job_outcome()) throw_closed(generation);
    keep_alive();
  }
}

Round Rendezvous::next_round() {
  std::call_once(registered_, [this] {
    store_->set(key(fmt::format("agent/{}", store_->add(key("agents"), 1))), self_.id);
  });
  int64_t g;
  {
    std::lock_guard lock(mutex_);
    g = last_round_ ? last_round_->generation + 1 : -1;
  }
  if (g > 0) {
    end_round(g - 1, "rejoin");  // wakes the spares of the round this agent leaves
  } else {
    g = current_generation();
  }
  for (;; ++g) {
    if (job_outcome()) throw_closed(g);
    Clock::time_point deadline = Clock::now() + options_.join_timeout;
    keep_alive();
    Ticket ticket = take_ticket(g);
    bool closed_here = false;
    int64_t closed_at = await_closed(ticket, deadline, closed_here);
    if (ticket.number > closed_at) {  // came after the round closed: a spare
      wait_round_over(g);
      continue;
    }
    Formed formed = members_of(g, closed_at, closed_here);
    if (formed.is_void) continue;
    auto mine = std::find_if(formed.members.begin(), formed.members.end(),
                             [&](const AgentInfo& a) { return a.id == self_.id; });
    if (mine == formed.members.end()) {
      wait_round_over(g);
      continue;
    }
    Round round;
    round.generation = g;
    round.members = formed.members;
    round.group_rank = static_cast<int>(mine - formed.members.begin());
    for (int i = 0; i < static_cast<int>(round.members.size()); ++i) {
      if (i == round.group_rank) round.rank_offset = round.world_size;
      round.world_size += round.members[static_cast<size_t>(i)].local_world_size;
    }
    if (job_outcome()) throw_closed(g);
    std::lock_guard lock(mutex_);
    last_round_ = round;
    last_formed_ = formed;
    return round;
  }
}

void Rendezvous::throw_closed(int64_t generation) {
  std::optional<json> outcome = job_outcome();
  raise(ErrorCode::Unavailable,
        "rendezvous {}: the job was closed ({}) while agent {} waited for generation {}", options_.prefix,
        outcome ? outcome->dump() : std::string("no outcome"), self_.id, generation);
}

void Rendezvous::throw_join_timeout(int64_t generation, int64_t count) {
  std::vector<std::string> names;
  for (int64_t k = 1; k <= std::min(count, kMaxNamedAgents); ++k) {
    std::string slot = gen_key(generation, fmt::format("slot/{}", k));
    if (!store_->check({slot})) continue;
    std::string held = store_->get(slot, options_.lease_timeout);
    if (held != kVoidSlot) names.push_back(parse_value(slot, held).value("id", std::string("?")));
  }
  if (count > kMaxNamedAgents) names.push_back("...");
  raise(ErrorCode::Timeout,
        "rendezvous {}: generation {}: {} of the {} agents needed (min nodes) joined within {} ms "
        "(key {}; agents: {}); agent {} gives up",
        options_.prefix, generation, count, options_.min_nodes, options_.join_timeout.count(),
        gen_key(generation, "tickets"), fmt::join(names, ", "), self_.id);
}

json Rendezvous::report_failure(int64_t generation, const json& failure) {
  json report = failure.is_object() ? failure : json{{"detail", failure}};
  report["generation"] = generation;
  report["reporter"] = self_.id;
  std::string mine = report.dump();
  const std::string failure_key = gen_key(generation, "failure");
  const std::string count_key = gen_key(generation, "failure_count");
  std::string held = store_->compare_set(failure_key, "", mine);
  if (held == mine) {
    // Counted once per round, by the winner, then published for the losers.
    store_->set(count_key, std::to_string(store_->add(key("failures"), 1)));
  }
  json winner = parse_value(failure_key, held);
  winner["failure_count"] = failure_count(generation);
  end_round(generation, "failure");
  return winner;
}

int64_t Rendezvous::failure_count(int64_t generation) {
  const std::string count_key = gen_key(generation, "failure_count");
  try {
    return parse_count(count_key, store_->get(count_key, options_.lease_timeout));
  } catch (const Error& e) {
    if (!is_timeout(e)) throw;
    return failure_count();  // the winner died between its two writes
  }
}

std::optional<json> Rendezvous::failure(int64_t generation) {
  std::string failure_key = gen_key(generation, "failure");
  if (!store_->check({failure_key})) return std::nullopt;
  return parse_value(failure_key, store_->get(failure_key, options_.lease_timeout));
}

void Rendezvous::publish_master(int64_t generation, const std::string& endpoint) {
  store_->set(gen_key(generation, "master"), endpoint);
}

std::optional<std::string> Rendezvous::master(int64_t generation, std::chrono::milliseconds wait) {
  try {
    return store_->get(gen_key(generation, "master"), wait);
  } catch (const Error& e) {
    if (e.code() != ErrorCode::Timeout) throw;
    return std::nullopt;
  }
}

int64_t Rendezvous::failure_count() {
  return read_counter(key("failures"));
}

void Rendezvous::report_done(int64_t generation) {
  {
    std::lock_guard lock(mutex_);
    if (done_generation_ == generation) return;  // counted once per round
    done_generation_ = generation;
  }
  store_->add(gen_key(generation, "done"), 1);
}

bool Rendezvous::all_done(const Round& round) {
  return read_counter(gen_key(round.generation, "done")) >= static_cast<int64_t>(round.members.size());
}

bool Rendezvous::round_over(int64_t generation) {
  return store_->check({gen_key(generation, "over")});
}

void Rendezvous::keep_alive() {
  store_->add(key("lease/" + self_.id), 1);
}

std::vector<AgentInfo> Rendezvous::lost_members(const Round& round) {
  std::lock_guard lock(mutex_);
  if (leases_generation_ != round.generation) {
    leases_.clear();
    leases_generation_ = round.generation;
  }
  // Each member watches the members after it in group order, up to the
  // first whose lease still moves: one lease read per call while everyone
  // lives, and a failed member is still found when its watcher failed too.
  std::vector<AgentInfo> lost;
  const int n = static_cast<int>(round.members.size());
  for (int step = 1; step < n; ++step) {
    const AgentInfo& agent = round.members[static_cast<size_t>((round.group_rank + step) % n)];
    if (agent.id == self_.id) break;
    int64_t value = read_counter(key("lease/" + agent.id));
    if (!leases_[agent.id].stopped(value, Clock::now(), options_.lease_timeout)) break;
    lost.push_back(agent);
  }
  for (const AgentInfo& agent : lost) store_->set(key("lost/" + agent.id), self_.id);
  return lost;
}

int Rendezvous::waiting_agents() {
  int64_t generation;
  Formed formed;
  {
    std::lock_guard lock(mutex_);
    if (!last_round_ || !last_formed_) return 0;
    generation = last_round_->generation;
    formed = *last_formed_;
  }
  int64_t late = read_counter(gen_key(generation, "tickets")) - formed.closed_at;
  return static_cast<int>(formed.spares + std::max<int64_t>(late, 0));
}

void Rendezvous::request_membership_change(int64_t generation) {
  store_->compare_set(gen_key(generation, "membership"), "", self_.id);
  end_round(generation, "membership change");
}

bool Rendezvous::membership_change_requested(int64_t generation) {
  return store_->check({gen_key(generation, "membership")});
}

void Rendezvous::close_job(const json& outcome) {
  store_->compare_set(key("outcome"), "", outcome.dump());
  outcome_seen_ = true;
  // Wake everyone: the agents waiting for the open round to close, and the
  // spares waiting for the running one to end.
  int64_t g = current_generation();
  store_->compare_set(gen_key(g, "closed"), "", kAborted);
  store_->compare_set(gen_key(g, "over"), "", "job closed");
}

std::optional<json> Rendezvous::job_outcome() {
  std::string outcome_key = key("outcome");
  if (!store_->check({outcome_key})) return std::nullopt;
  json outcome = parse_value(outcome_key, store_->get(outcome_key, options_.lease_timeout));
  outcome_seen_ = true;
  return outcome;
}

void Rendezvous::acknowledge_outcome() {
  store_->set(key("seen/" + self_.id), "1");
}

std::vector<std::string> Rendezvous::await_outcome_seen(
    milliseconds bound, const std::function<bool(const std::string&)>& exited) {
  const Clock::time_point deadline = Clock::now() + bound;
  std::map<std::string, LeaseSeen> pending;
  int64_t joined = read_counter(key("agents"));
  for (int64_t k = 1; k <= joined; ++k) {
    std::string entry = key(fmt::format("agent/{}", k));
    // An agent between its add and its set: it has not joined a round yet, and waits on `outcome`.
    if (!store_->check({entry})) continue;
    std::string id = store_->get(entry, options_.lease_timeout);
    if (!exited || !exited(id)) pending.emplace(std::move(id), LeaseSeen{});
  }
  for (;;) {
    Clock::time_point now = Clock::now();
    for (auto it = pending.begin(); it != pending.end();) {
      const std::string& id = it->first;
      if (store_->check({key("seen/" + id)}) || store_->check({key("lost/" + id)})) {
        it = pending.erase(it);
        continue;
      }
      if (it->second.stopped(read_counter(key("lease/" + id)), now, options_.lease_timeout)) {
        it = pending.erase(it);  // gone without a word: nothing waits on it
        continue;
      }
      ++it;
    }
    if (pending.empty() || now >= deadline) break;
    std::this_thread::sleep_for(std::min(options_.poll_interval, until(deadline)));
  }
  std::vector<std::string> unaware;
  unaware.reserve(pending.size());
  for (const auto& entry : pending) unaware.push_back(entry.first);
  return unaware;
}

}  // namespace myriad::elastic
