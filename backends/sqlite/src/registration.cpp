// The public entry points: make_backend() and register_backend().
#include <memory>
#include <utility>

#include "baton/kit/registration.hpp"
#include "baton/sqlite.hpp"
#include "host.hpp"
#include "settings.hpp"
#include "sqlite_backend.hpp"
#include "wake_board.hpp"

namespace baton::sqlite {

std::shared_ptr<Backend> make_backend(const Options& options) {
  auto shared = std::make_shared<detail::SharedState>();
  shared->settings = detail::settings_from(options);
  auto identity = std::make_shared<detail::Identity>();
  identity->boot_id = options.boot_id.empty() ? detail::read_boot_id() : options.boot_id;
  identity->pid_ns = detail::read_pid_namespace();
  shared->identity = std::move(identity);
  shared->board = detail::WakeBoard::open(shared->settings.path);
  return std::make_shared<detail::SqliteBackend>(std::move(shared));
}

void register_backend(Registry& registry) {
  kit::register_backend<Options>(registry, "sqlite", &options_from_config, &make_backend);
}

}  // namespace baton::sqlite
