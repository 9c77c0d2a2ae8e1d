#include "traced_backend.hpp"

#include <cctype>
#include <string>
#include <utility>

#include "watchdog.hpp"

namespace baton::conformance::detail {

namespace {

// A name for messages: printable bytes as they are, others as \xNN, long
// names cut (names may be 1024 arbitrary bytes, §1.11).
std::string printable(std::string_view name) {
  constexpr std::size_t shown = 60;
  std::string out;
  for (std::size_t i = 0; i < name.size() && i < shown; ++i) {
    const auto c = static_cast<unsigned char>(name[i]);
    if (std::isprint(c) && c != '"' && c != '\\') {
      out += static_cast<char>(c);
    } else {
      static constexpr char hex[] = "0123456789abcdef";
      out += {'\\', 'x', hex[c >> 4], hex[c & 15]};
    }
  }
  if (name.size() > shown) out += "...(" + std::to_string(name.size()) + " bytes)";
  return '"' + out + '"';
}

std::string ms(std::chrono::milliseconds d) { return std::to_string(d.count()) + " ms"; }

class TracedLock final : public BackendLock {
 public:
  TracedLock(std::unique_ptr<BackendLock> inner, std::string label)
      : inner_(std::move(inner)), label_(std::move(label)) {}

  std::optional<std::uint64_t> acquire(Clock::time_point deadline, std::chrono::milliseconds ttl,
                                       std::stop_token stop) override {
    const auto left = std::chrono::duration_cast<std::chrono::milliseconds>(deadline - Clock::now());
    const std::string until = deadline == Clock::time_point::max() ? "no deadline" : "deadline in " + ms(left);
    BackendCall call(label_ + ".acquire(" + until + ", ttl " + (ttl == forever ? "forever" : ms(ttl)) + ")");
    return inner_->acquire(deadline, ttl, std::move(stop));
  }
  std::optional<std::uint64_t> try_acquire(std::chrono::milliseconds ttl) override {
    BackendCall call(label_ + ".try_acquire(ttl " + (ttl == forever ? "forever" : ms(ttl)) + ")");
    return inner_->try_acquire(ttl);
  }
  bool renew(std::chrono::milliseconds ttl) override {
    BackendCall call(label_ + ".renew(ttl " + ms(ttl) + ")");
    return inner_->renew(ttl);
  }
  bool release() override {
    BackendCall call(label_ + ".release()");
    return inner_->release();
  }

 private:
  std::unique_ptr<BackendLock> inner_;
  std::string label_;
};

class TracedBackend final : public Backend {
 public:
  explicit TracedBackend(std::shared_ptr<Backend> inner) : inner_(std::move(inner)) {}

  std::string_view kind() const noexcept override { return inner_->kind(); }
  std::unique_ptr<BackendLock> open(std::string_view name, const Owner& owner) override {
    const std::string label = "BackendLock(" + printable(name) + ")";
    BackendCall call("Backend::open(" + printable(name) + ")");
    return std::make_unique<TracedLock>(inner_->open(name, owner), label);
  }
  LockInfo inspect(std::string_view name) override {
    BackendCall call("Backend::inspect(" + printable(name) + ")");
    return inner_->inspect(name);
  }
  std::vector<LockInfo> list() override {
    BackendCall call("Backend::list()");
    return inner_->list();
  }
  bool clear(std::string_view name) override {
    BackendCall call("Backend::clear(" + printable(name) + ")");
    return inner_->clear(name);
  }

 private:
  std::shared_ptr<Backend> inner_;
};

}  // namespace

std::shared_ptr<Backend> traced(std::shared_ptr<Backend> inner) {
  return std::make_shared<TracedBackend>(std::move(inner));
}

}  // namespace baton::conformance::detail
