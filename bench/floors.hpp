// bench/floors.hpp: the bare primitives each backend is built on, driven
// directly, without baton: the floors baton's measures are compared with.
//
//   uncontended pair (Floor):
//     sqlite:   two write transactions, BEGIN IMMEDIATE; write one row; COMMIT
//               (floor), and two empty BEGIN IMMEDIATE; COMMIT (floor_empty)
//     postgres: SELECT pg_advisory_lock(k) + SELECT pg_advisory_unlock(k)
//               (floor), and with the lock statement also bumping a one-row
//               counter table, committed (floor_fenced)
//     redis:    SET k v NX PX + compare-and-delete EVAL
//     etcd:     a lease-bound put in a transaction + a delete, over the JSON
//               gateway (etcd_floor.cpp)
//   hand-off participant (FloorParticipant):
//     postgres: pg_advisory_lock / pg_advisory_unlock of one key
//     redis:    BLPOP on the participant's own key / RPUSH to the next one's
//     sqlite:   FUTEX_WAIT on the participant's own word / one write
//               transaction on a queue table, then FUTEX_WAKE of the next's
#pragma once

#include <atomic>
#include <cstdint>
#include <functional>
#include <string>
#include <utility>
#include <vector>

#include <baton/features.hpp>  // BATON_HAS_POSTGRES, BATON_HAS_REDIS

namespace bench {

// One acquire+release of the bare primitive, on a connection of its own.
struct Floor {
  std::function<void()> pair;
  std::function<void()> close;
};

// The uncontended floors of setup.backend, named as the output reports them
// ("floor" first: the ratio is to it).
std::vector<std::pair<std::string, Floor>> uncontended_floors();

// One participant of a hand-off floor, on its own connection to the bare
// primitive.
struct FloorParticipant {
  std::function<void()> wait;  // blocks until this participant holds
  std::function<void()> pass;  // lets the next participant in
  std::function<void()> close;
  std::function<void(int)> await_waiters;  // until the server queues n waiters
};

#if BENCH_HAS_ETCD
// The etcd floor's pair, on $BATON_TEST_ETCD_ENDPOINTS' first endpoint.
Floor etcd_floor();
#endif

#if BATON_HAS_POSTGRES
// fenced: the lock statement also bumps a one-row counter, committed before
// the reply, so the grant carries a durable token as baton's does.
FloorParticipant postgres_floor_participant(const std::string& name, bool fenced);
#endif

#if BATON_HAS_REDIS
// Participant i of a ring of `participants`.
FloorParticipant redis_floor_participant(const std::string& name, int i, int participants);
#endif

// Fills the SQLite floor's queue table with `rows` rows of `name`, before
// the participants start.
void sqlite_floor_fill(const std::string& name, int rows);

// Participant i of a ring of `participants`, sleeping on words[i]. store
// false: the futex wake-ups alone, no write (handoff_floor_wake).
FloorParticipant sqlite_floor_participant(const std::string& name, int i, int participants,
                                          std::atomic<std::uint32_t>* words, bool store);

}  // namespace bench
