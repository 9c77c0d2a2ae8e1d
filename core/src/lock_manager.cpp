#include "baton/lock_manager.hpp"

#include "baton/error.hpp"
#include "baton/kit/defaults.hpp"
#include "baton/name.hpp"
#include "detail.hpp"

namespace baton {
namespace {
constexpr std::chrono::milliseconds builtin_default_ttl = std::chrono::seconds(30);
constexpr unsigned builtin_renew_divisor = 3;
}  // namespace

LockManager::LockManager(std::shared_ptr<Backend> backend, ManagerOptions options) {
  if (!backend) throw std::invalid_argument("baton::LockManager needs a backend");
  const auto ttl = kit::or_default(options.default_ttl, builtin_default_ttl);
  const unsigned divisor = options.renew_divisor > 1 ? options.renew_divisor : builtin_renew_divisor;
  core_ = std::make_shared<detail::ManagerCore>(std::move(backend), ttl, divisor);
}

LockManager LockManager::from_config(const Config& config, const Registry& registry) {
  std::shared_ptr<Backend> backend;
  try {
    backend = registry.make(config.backend, config.section);
  } catch (const ConfigError& e) {
    if (!e.source().empty()) throw;
    throw ConfigError(e.key(), e.message(), config.source);
  }
  ManagerOptions options;
  options.default_ttl = config.default_ttl;
  return LockManager(std::move(backend), options);
}

LockManager LockManager::from_json(const nlohmann::json& document, Registry& registry) {
  return from_config(parse_config(document, "<json>", registry), registry);
}

LockManager LockManager::from_file(const std::filesystem::path& path, Registry& registry) {
  return from_config(load_config_file(path, registry), registry);
}

LockManager::LockManager(LockManager&&) noexcept = default;
LockManager& LockManager::operator=(LockManager&&) noexcept = default;
LockManager::~LockManager() = default;

Lock LockManager::lock(std::string name, LockOptions options) {
  validate_name(name);
  return open_lock(std::move(name), std::move(options));
}

Lock LockManager::resource_lock(std::string_view kind, std::string_view name, LockOptions options) {
  return open_lock(resource_lock_name(kind, name), std::move(options));
}

Lock LockManager::open_lock(std::string name, LockOptions options) {
  auto state = std::make_shared<detail::LockState>();
  state->ttl = kit::or_default(options.ttl, core_->default_ttl);
  state->auto_renew = options.auto_renew;
  state->on_lost = std::move(options.on_lost);
  state->session = core_->backend->open(name, detail::make_owner());
  state->name = std::move(name);
  // Started now rather than at the first grant, which would otherwise pay
  // for a thread start on top of its hand-off.
  if (state->auto_renew && state->ttl != forever) core_->renewer.start();
  return Lock(core_, std::move(state));
}

LockInfo LockManager::inspect(std::string_view name) {
  validate_name(name, /*allow_reserved=*/true);
  return core_->backend->inspect(name);
}

std::vector<LockInfo> LockManager::list() { return core_->backend->list(); }

bool LockManager::clear(std::string_view name) {
  validate_name(name, /*allow_reserved=*/true);
  return core_->backend->clear(name);
}

std::chrono::milliseconds LockManager::default_ttl() const noexcept { return core_->default_ttl; }

Backend& LockManager::backend() const noexcept { return *core_->backend; }

}  // namespace baton
