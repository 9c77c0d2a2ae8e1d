#include "keys.hpp"

#include <algorithm>
#include <array>

namespace baton::etcd {

namespace {

constexpr std::string_view alphabet = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
constexpr std::string_view hex_digits = "0123456789abcdef";

int hex_value(char c) {
  if (c >= '0' && c <= '9') return c - '0';
  if (c >= 'a' && c <= 'f') return c - 'a' + 10;
  return -1;
}

}  // namespace

std::string base64(std::string_view bytes) {
  std::string out;
  out.reserve((bytes.size() + 2) / 3 * 4);
  for (std::size_t i = 0; i < bytes.size(); i += 3) {
    const std::size_t n = std::min<std::size_t>(3, bytes.size() - i);
    std::uint32_t v = 0;
    for (std::size_t j = 0; j < 3; ++j) v = (v << 8) | (j < n ? static_cast<unsigned char>(bytes[i + j]) : 0u);
    for (std::size_t j = 0; j < 4; ++j) out += j <= n ? alphabet[(v >> (18 - 6 * j)) & 63] : '=';
  }
  return out;
}

std::string unbase64(std::string_view text) {
  std::array<int, 256> value;
  value.fill(-1);
  for (std::size_t i = 0; i < alphabet.size(); ++i) value[static_cast<unsigned char>(alphabet[i])] = static_cast<int>(i);
  std::string out;
  std::uint32_t acc = 0;
  int bits = 0;
  for (char c : text) {
    const int v = value[static_cast<unsigned char>(c)];
    if (v < 0) continue;  // '=' padding
    acc = (acc << 6) | static_cast<std::uint32_t>(v);
    bits += 6;
    if (bits >= 8) {
      bits -= 8;
      out += static_cast<char>((acc >> bits) & 0xff);
    }
  }
  return out;
}

std::string name_dir(std::string_view prefix, std::string_view name) {
  std::string out(prefix);
  for (unsigned char c : name) {
    out += hex_digits[c >> 4];
    out += hex_digits[c & 15];
  }
  out += '/';
  return out;
}

std::string name_of_key(std::string_view prefix, std::string_view key) {
  if (key.substr(0, prefix.size()) != prefix) return {};
  key.remove_prefix(prefix.size());
  const auto slash = key.find('/');
  if (slash == std::string_view::npos || slash == 0 || slash % 2 != 0) return {};
  std::string name;
  for (std::size_t i = 0; i < slash; i += 2) {
    const int hi = hex_value(key[i]);
    const int lo = hex_value(key[i + 1]);
    if (hi < 0 || lo < 0) return {};
    name += static_cast<char>(hi * 16 + lo);
  }
  return name;
}

std::string prefix_end(std::string_view prefix) {
  std::string end(prefix);
  while (!end.empty()) {
    if (static_cast<unsigned char>(end.back()) < 0xff) {
      end.back() = static_cast<char>(static_cast<unsigned char>(end.back()) + 1);
      return end;
    }
    end.pop_back();
  }
  return std::string(1, '\0');  // every key
}

nlohmann::json prefix_range(std::string_view prefix) {
  return {{"key", base64(prefix)}, {"range_end", base64(prefix_end(prefix))}};
}

std::int64_t int_field(const nlohmann::json& object, const char* key) {
  if (!object.is_object() || !object.contains(key)) return 0;
  const auto& v = object[key];
  if (v.is_string()) return std::stoll(v.get<std::string>());
  if (v.is_number_integer()) return v.get<std::int64_t>();
  return 0;
}

std::string entry_value(const Owner& owner, std::chrono::milliseconds ttl) {
  const auto now = std::chrono::duration_cast<std::chrono::milliseconds>(
      std::chrono::system_clock::now().time_since_epoch());
  const nlohmann::json v{{"owner", owner.id},
                         {"host", owner.host},
                         {"pid", owner.pid},
                         {"at_ms", now.count()},
                         {"ttl_ms", ttl == baton::forever ? -1 : ttl.count()}};
  return base64(v.dump());
}

std::vector<Entry> entries_of(const nlohmann::json& range_response) {
  std::vector<Entry> out;
  if (!range_response.is_object() || !range_response.contains("kvs")) return out;
  for (const auto& kv : range_response["kvs"]) {
    Entry e;
    e.key = unbase64(kv.value("key", ""));
    e.create_revision = int_field(kv, "create_revision");
    e.lease = int_field(kv, "lease");
    const auto v = nlohmann::json::parse(unbase64(kv.value("value", "")), nullptr, false);
    if (v.is_object()) {
      e.owner.id = v.value("owner", "");
      e.owner.host = v.value("host", "");
      e.owner.pid = v.value("pid", std::int64_t{0});
      e.queued_at = std::chrono::system_clock::time_point(std::chrono::milliseconds(v.value("at_ms", std::int64_t{0})));
      const auto ttl = v.value("ttl_ms", std::int64_t{0});
      e.ttl = ttl < 0 ? baton::forever : std::chrono::milliseconds(ttl);
    }
    out.push_back(std::move(e));
  }
  std::sort(out.begin(), out.end(), [](const Entry& a, const Entry& b) { return a.create_revision < b.create_revision; });
  return out;
}

}  // namespace baton::etcd
