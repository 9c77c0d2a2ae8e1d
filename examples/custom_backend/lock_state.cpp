#include "lock_state.hpp"

#include <algorithm>
#include <sstream>

namespace baton_flock {

namespace {

// Byte strings as "x" + hex: never empty, never holding a space or newline.
std::string hex(std::string_view bytes) {
  static constexpr char digits[] = "0123456789abcdef";
  std::string out = "x";
  for (unsigned char c : bytes) {
    out += digits[c >> 4];
    out += digits[c & 15];
  }
  return out;
}

std::optional<std::string> unhex(std::string_view text) {
  if (text.empty() || text[0] != 'x' || text.size() % 2 == 0) return std::nullopt;
  auto value = [](char c) -> int {
    if (c >= '0' && c <= '9') return c - '0';
    if (c >= 'a' && c <= 'f') return c - 'a' + 10;
    return -1;
  };
  std::string out;
  for (std::size_t i = 1; i < text.size(); i += 2) {
    const int hi = value(text[i]), lo = value(text[i + 1]);
    if (hi < 0 || lo < 0) return std::nullopt;
    out += static_cast<char>(hi * 16 + lo);
  }
  return out;
}

bool read_hex(std::istream& in, std::string& out) {
  std::string word;
  if (!(in >> word)) return false;
  auto bytes = unhex(word);
  if (!bytes) return false;
  out = std::move(*bytes);
  return true;
}

bool parse_process(std::istream& in, ProcessId& p) {
  return read_hex(in, p.host) && static_cast<bool>(in >> p.pid >> p.start);
}

bool parse_holder(std::istream& in, Holder& h) {
  return read_hex(in, h.owner) && read_hex(in, h.host) && static_cast<bool>(in >> h.owner_pid) &&
         parse_process(in, h.process) &&
         static_cast<bool>(in >> h.token >> h.acquired_at_unix_ns >> h.expires_ns);
}

bool parse_waiter(std::istream& in, Waiter& w) {
  return static_cast<bool>(in >> w.ticket) && read_hex(in, w.owner) && parse_process(in, w.process) &&
         static_cast<bool>(in >> w.give_up_ns);
}

std::string process_text(const ProcessId& p) {
  return hex(p.host) + ' ' + std::to_string(p.pid) + ' ' + std::to_string(p.start);
}

// One line of the file into `state`; false when it is malformed.
bool parse_line(const std::string& line, LockState& state) {
  std::istringstream in(line);
  std::string kind;
  in >> kind;
  if (kind == "baton-flock") return line == "baton-flock 1";
  if (kind == "name") return read_hex(in, state.name);
  if (kind == "tickets") return static_cast<bool>(in >> state.next_ticket);
  if (kind == "token") return static_cast<bool>(in >> state.last_token);
  if (kind == "holder") return parse_holder(in, state.holder.emplace());
  if (kind == "waiter") return parse_waiter(in, state.waiters.emplace_back());
  return false;
}

}  // namespace

std::string serialize(const LockState& s) {
  std::ostringstream out;
  out << "baton-flock 1\n"
      << "name " << hex(s.name) << "\n"
      << "tickets " << s.next_ticket << "\n"
      << "token " << s.last_token << "\n";
  if (const auto& h = s.holder) {
    out << "holder " << hex(h->owner) << ' ' << hex(h->host) << ' ' << h->owner_pid << ' '
        << process_text(h->process) << ' ' << h->token << ' ' << h->acquired_at_unix_ns << ' ' << h->expires_ns
        << "\n";
  }
  for (const auto& w : s.waiters) {
    out << "waiter " << w.ticket << ' ' << hex(w.owner) << ' ' << process_text(w.process) << ' '
        << w.give_up_ns << "\n";
  }
  out << "end\n";
  return out.str();
}

std::optional<LockState> parse(std::string_view text) {
  LockState state;
  if (text.empty()) return state;
  std::istringstream in{std::string(text)};
  std::string line;
  while (std::getline(in, line)) {
    if (line == "end") return state;
    if (!parse_line(line, state)) return std::nullopt;
  }
  return std::nullopt;  // no "end": torn or foreign content
}

bool prune(LockState& s, std::int64_t now_ns) {
  bool changed = false;
  if (s.holder) {
    const bool expired = s.holder->expires_ns != never && now_ns >= s.holder->expires_ns;
    if (expired || !is_alive(s.holder->process)) {
      s.holder.reset();
      changed = true;
    }
  }
  const auto dropped = std::erase_if(s.waiters, [now_ns](const Waiter& w) {
    const bool abandoned = w.give_up_ns != never && now_ns >= w.give_up_ns + abandoned_grace_ns;
    return abandoned || !is_alive(w.process);
  });
  return changed || dropped > 0;
}

}  // namespace baton_flock
