// The capability rule: which tag a case carries for each thing it needs from
// the backend beyond the core contract, and whether the Suite under test
// declares it. A case whose capability is missing is skipped and listed as
// skipped; a case that uses a capability without its tag fails (checked
// where the capability is used, and by `--check-tags` for unknown tags).
#pragma once

#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "baton/conformance.hpp"

namespace baton::conformance::detail {

// Capability tags and what they need:
//   [process]        Suite::multi_process (helper processes on one store)
//   [unreachable]    Suite::make_unreachable_backend
//   [store-pause]    Suite::pause_store and Suite::resume_store
//   [store-restart]  Suite::restart_store
// Why a case with these tags cannot run on `suite`, e.g. "needs [process]:
// Suite::multi_process is false"; nullopt when it can.
std::optional<std::string> missing_capability(const Suite& suite, const std::vector<std::string>& tags);

// What is wrong with a case's tags: tags outside the known set (areas,
// capabilities, [slow], [smoke]), or no [conformance] tag. Empty when none.
std::vector<std::string> tag_problems(const std::vector<std::string>& tags);

// The case running in this process, as the watchdog's listener records it.
void set_current_case(std::string name, std::vector<std::string> tags);
std::string current_case_name();

// Throws std::logic_error unless the running case carries `tag`: a case that
// uses a capability (starts a helper process, pauses the store) must say so
// by its tags, so that backends without it skip the case instead of failing
// it. `use` names the use, e.g. "starts a helper process".
void require_case_tag(std::string_view tag, std::string_view use);

}  // namespace baton::conformance::detail
