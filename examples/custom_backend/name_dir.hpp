// name_dir.hpp: the directory of one lock name and the files in it.
//
//   <dir>/<32 hex digits>.d/        128-bit FNV-1a hash of the name
//     name                          the full name, written once (temp + link)
//     t.<20-digit ticket>           a live entry: a waiter or the holder
//     x.<20-digit ticket>           a tombstone: a granted ticket that left
//     tmp.<pid>.<start>.<n>         a file being prepared for a link()
//
// Every file appears with its full content (written under a temporary name,
// then link()ed), so a reader never sees a half-made file. An entry's content
// is written only by the process that created it (OwnEntry); everyone else
// only renames or unlinks it. Nothing here takes a lock or waits for another
// process.
#pragma once

#include <cstdint>
#include <filesystem>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "record.hpp"

namespace baton_flock {

// The directory of `name` in `root`.
std::filesystem::path dir_for(const std::filesystem::path& root, std::string_view name);

// One scan of a name's directory: the tickets of live entries (ascending),
// the highest ticket of any entry or tombstone, and the highest tombstone
// (0 if none).
struct Listing {
  std::vector<std::uint64_t> live;
  std::vector<std::uint64_t> tombstones;
  std::uint64_t highest = 0;
  std::uint64_t highest_tombstone = 0;
};

class NameDir {
 public:
  NameDir(std::filesystem::path path, std::string name) : path_(std::move(path)), name_(std::move(name)) {}

  const std::filesystem::path& path() const { return path_; }
  const std::string& name() const { return name_; }

  // Makes the directory and its name file if missing. Throws BackendError
  // when the name file holds another name (a hash collision), and
  // BackendUnavailable when the directory cannot be made.
  void ensure() const;
  // False when the directory does not exist (the name was never used);
  // otherwise checks the name as ensure() does.
  bool exists() const;
  // The name in a directory found by list(); nullopt if it has none yet.
  static std::optional<std::string> read_name(const std::filesystem::path& dir);

  Listing scan() const;
  // True when ticket `ticket` names a file now, as an entry or a tombstone.
  // One lookup per name, so unlike a scan it never misses a file that is
  // being renamed from entry to tombstone.
  bool issued(std::uint64_t ticket) const;
  // The record of live entry `ticket`; nullopt once it is gone.
  std::optional<Record> read(std::uint64_t ticket) const;
  // Takes entry `ticket` off the queue: a `granted` entry (one whose record
  // says holding) is renamed to its tombstone, so the highest ticket ever
  // granted always names a file; an entry never granted is unlinked.
  // Returns false if it was already gone.
  bool remove(std::uint64_t ticket, bool granted) const;
  // Unlinks the tombstones below the highest one.
  void collect(const Listing& listing) const;
  // fsync() of the directory: makes new and renamed entries durable.
  void sync() const;

  std::filesystem::path entry_path(std::uint64_t ticket) const;

 private:
  std::filesystem::path path_;
  std::string name_;
};

// The entry this process created. Its content is written only through here.
class OwnEntry {
 public:
  // Creates entry `ticket` holding `record`: nullopt if that ticket's entry
  // exists already (another process took it).
  static std::optional<OwnEntry> create(const NameDir& dir, std::uint64_t ticket, const Record& record);

  OwnEntry(OwnEntry&& other) noexcept;
  OwnEntry& operator=(OwnEntry&& other) noexcept;
  ~OwnEntry();

  std::uint64_t ticket() const { return ticket_; }
  const Record& record() const { return record_; }

  // Writes `record` in place (one pwrite of the next slot). `durable`:
  // fdatasync() too.
  void write(const Record& record, bool durable = false);
  // True while the entry's path still names this file: nobody has reaped,
  // cleared or otherwise removed it.
  bool present() const;

 private:
  OwnEntry(int fd, std::filesystem::path path, std::uint64_t ticket, Record record)
      : fd_(fd), path_(std::move(path)), ticket_(ticket), record_(std::move(record)) {}
  int fd_ = -1;
  std::filesystem::path path_;
  std::uint64_t ticket_ = 0;
  Record record_;
  std::uint64_t sequence_ = 1;  // of the slot last written
};

}  // namespace baton_flock
