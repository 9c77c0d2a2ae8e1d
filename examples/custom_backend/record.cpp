#include "record.hpp"

#include <sstream>

#include <baton/kit/errors.hpp>

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

bool read_hex(std::istream& in, std::string& out) {
  std::string word;
  if (!(in >> word) || word[0] != 'x' || word.size() % 2 == 0) return false;
  auto value = [](char c) -> int {
    if (c >= '0' && c <= '9') return c - '0';
    if (c >= 'a' && c <= 'f') return c - 'a' + 10;
    return -1;
  };
  out.clear();
  for (std::size_t i = 1; i < word.size(); i += 2) {
    const int hi = value(word[i]), lo = value(word[i + 1]);
    if (hi < 0 || lo < 0) return false;
    out += static_cast<char>(hi * 16 + lo);
  }
  return true;
}

// FNV-1a, 64-bit: detects a torn slot (a checksum, not a defence).
std::uint64_t checksum(std::string_view text) {
  std::uint64_t h = 0xcbf29ce484222325ULL;
  for (unsigned char c : text) {
    h ^= c;
    h *= 0x100000001b3ULL;
  }
  return h;
}

std::string body_of(const Record& r, std::uint64_t sequence) {
  std::ostringstream out;
  out << "baton-flock-entry 1 " << sequence << ' ' << hex(r.owner) << ' ' << hex(r.host) << ' ' << r.owner_pid
      << ' ' << hex(r.process.host) << ' ' << r.process.pid << ' ' << r.process.start << ' '
      << static_cast<char>(r.phase) << ' ' << r.lease_end_ns << ' ' << r.give_up_ns << ' ' << r.acquired_unix_ns;
  return out.str();
}

std::optional<Versioned> parse_body(const std::string& body) {
  std::istringstream in(body);
  std::string magic, version;
  Versioned v;
  Record& r = v.record;
  char phase = 0;
  if (!(in >> magic >> version >> v.sequence) || magic != "baton-flock-entry" || version != "1") return std::nullopt;
  if (!read_hex(in, r.owner) || !read_hex(in, r.host) || !(in >> r.owner_pid) || !read_hex(in, r.process.host) ||
      !(in >> r.process.pid >> r.process.start >> phase >> r.lease_end_ns >> r.give_up_ns >> r.acquired_unix_ns)) {
    return std::nullopt;
  }
  if (phase != 'w' && phase != 'h') return std::nullopt;
  r.phase = static_cast<Phase>(phase);
  return v;
}

// One slot: "<body>\n<checksum of body, 16 hex digits>\n", then NUL padding.
std::optional<Versioned> decode_slot(std::string_view slot) {
  const auto first = slot.find('\n');
  if (first == std::string_view::npos || first + 18 > slot.size() || slot[first + 17] != '\n') return std::nullopt;
  const std::string_view body = slot.substr(0, first);
  std::uint64_t sum = 0;
  std::istringstream(std::string(slot.substr(first + 1, 16))) >> std::hex >> sum;
  if (sum != checksum(body)) return std::nullopt;
  return parse_body(std::string(body));
}

}  // namespace

std::string encode_slot(const Record& record, std::uint64_t sequence) {
  const std::string body = body_of(record, sequence);
  char sum[17];
  std::snprintf(sum, sizeof sum, "%016llx", static_cast<unsigned long long>(checksum(body)));
  std::string slot = body + '\n' + sum + '\n';
  if (slot.size() > slot_size) {
    baton::kit::raise(baton::kit::Failure::error, "flock", "owner id and host too long for an entry");
  }
  slot.resize(slot_size, '\0');
  return slot;
}

std::optional<Versioned> decode_entry(std::string_view bytes) {
  if (bytes.size() < entry_size) return std::nullopt;
  auto a = decode_slot(bytes.substr(0, slot_size));
  auto b = decode_slot(bytes.substr(slot_size, slot_size));
  if (a && b) return a->sequence > b->sequence ? a : b;
  return a ? a : b;
}

bool lease_running(const Record& r, std::int64_t now_ns) {
  return r.lease_end_ns == never || now_ns < r.lease_end_ns;
}

bool reapable(const Record& r, std::int64_t now_ns) {
  if (r.phase == Phase::holding && r.lease_end_ns != never && now_ns >= r.lease_end_ns + lease_grace_ns) return true;
  if (r.phase == Phase::waiting && r.give_up_ns != never && now_ns >= r.give_up_ns + abandoned_grace_ns) return true;
  return !is_alive(r.process);
}

}  // namespace baton_flock
