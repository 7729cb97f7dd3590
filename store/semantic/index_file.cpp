// The index's files: one hnswlib file per graph and a manifest, in a folder
// beside the database. The manifest names the generation of the vectors
// table the graphs match, the parameters they were built with, and for each
// graph its tenant, scope, dimensions, file, element count, size and
// checksum. A file is read by hnswlib only once its size, its layout and its
// checksum agree with the manifest: hnswlib trusts the sizes it reads.
#include "store/semantic/index.hpp"

#include "protocol/error.hpp"

#include <fmt/core.h>
#include <nlohmann/json.hpp>

#include <array>
#include <bit>
#include <cerrno>
#include <cstring>
#include <fcntl.h>
#include <limits>
#include <mutex>
#include <stdexcept>
#include <system_error>
#include <unistd.h>

namespace omnicache::store::semantic {

namespace fs = std::filesystem;
using Json = nlohmann::json;

namespace {

constexpr int k_format = 1;
constexpr const char* k_manifest = "manifest.json";
constexpr std::uintmax_t k_max_manifest_bytes = 64u << 20;
constexpr int k_max_level = 64; // levels are logarithmic in the element count
constexpr std::size_t k_chunk = 1u << 20;

// hnswlib's types, as index.cpp checks (hnswlib.h defines functions, so
// only one file may include it): an element's number, the word holding a
// list's length, a label.
using Link = std::uint32_t;
using LinkCount = std::uint32_t;
using Label = std::size_t;

[[noreturn]] void
fail(std::string message)
{
  throw protocol::Error(protocol::ErrorCode::bad_file, message);
}

// In the words std::system_error would use: "what: reason".
[[noreturn]] void
fail_errno(const std::string& what)
{
  const int error = errno;
  throw protocol::Error(protocol::ErrorCode::io, fmt::format("{}: {}", what, std::generic_category().message(error)));
}

// A 64-bit hash of a file's bytes: four independent lanes of
// multiply-rotate rounds over 8-byte words, fast enough to check a
// gigabyte-sized graph in a fraction of its load time. It detects damage;
// it is no defence against an attacker, who could write the manifest too.
class Checksum
{
public:
  void add(const char* data, std::size_t size)
  {
    m_total += size;
    if (m_pending_size > 0) {
      const std::size_t take = std::min(size, m_pending.size() - m_pending_size);
      std::memcpy(m_pending.data() + m_pending_size, data, take);
      m_pending_size += take;
      data += take;
      size -= take;
      if (m_pending_size < m_pending.size()) {
        return;
      }
      block(m_pending.data());
      m_pending_size = 0;
    }
    for (; size >= m_pending.size(); data += m_pending.size(), size -= m_pending.size()) {
      block(data);
    }
    std::memcpy(m_pending.data(), data, size);
    m_pending_size = size;
  }

  std::uint64_t value() const
  {
    std::uint64_t h = m_total * k_p1;
    for (const auto lane : m_lanes) {
      h = std::rotl(h ^ lane, 27) * k_p1 + k_p2;
    }
    for (std::size_t i = 0; i < m_pending_size; ++i) {
      h = std::rotl(h ^ static_cast<unsigned char>(m_pending[i]) * k_p2, 11) * k_p1;
    }
    h ^= h >> 33;
    h *= k_p2;
    h ^= h >> 29;
    return h;
  }

private:
  static constexpr std::uint64_t k_p1 = 0x9E3779B185EBCA87ULL;
  static constexpr std::uint64_t k_p2 = 0xC2B2AE3D27D4EB4FULL;

  void block(const char* data)
  {
    for (std::size_t i = 0; i < m_lanes.size(); ++i) {
      std::uint64_t word;
      std::memcpy(&word, data + i * sizeof word, sizeof word);
      m_lanes[i] = std::rotl(m_lanes[i] + word * k_p2, 31) * k_p1;
    }
  }

  std::array<std::uint64_t, 4> m_lanes{k_p1 + k_p2, k_p2, 0, 0 - k_p1};
  std::array<char, 32> m_pending{};
  std::size_t m_pending_size = 0;
  std::uint64_t m_total = 0;
};

std::string
hex(std::uint64_t value)
{
  return fmt::format("{:016x}", value);
}

// Reads a file front to back through one buffer, hashing every byte.
class FileScan
{
public:
  explicit FileScan(const fs::path& path)
    : m_fd(::open(path.c_str(), O_RDONLY | O_CLOEXEC)),
      m_buffer(k_chunk)
  {
    if (m_fd < 0) {
      fail_errno(path.filename().string());
    }
  }
  ~FileScan() { ::close(m_fd); }
  FileScan(const FileScan&) = delete;
  FileScan& operator=(const FileScan&) = delete;

  template<typename T>
  T read()
  {
    T value;
    if (!take(reinterpret_cast<char*>(&value), sizeof value)) {
      fail("ends early");
    }
    return value;
  }

  void skip(std::uint64_t size)
  {
    if (!take(nullptr, size)) {
      fail("ends early");
    }
  }

  bool at_end()
  {
    return m_begin == m_end && !refill();
  }

  std::uint64_t checksum() const { return m_checksum.value(); }

private:
  bool refill()
  {
    const ssize_t n = ::read(m_fd, m_buffer.data(), m_buffer.size());
    if (n < 0) {
      fail_errno("read");
    }
    m_checksum.add(m_buffer.data(), static_cast<std::size_t>(n));
    m_begin = 0;
    m_end = static_cast<std::size_t>(n);
    return n > 0;
  }

  bool take(char* out, std::uint64_t size)
  {
    while (size > 0) {
      if (m_begin == m_end && !refill()) {
        return false;
      }
      const auto n = static_cast<std::size_t>(std::min<std::uint64_t>(size, m_end - m_begin));
      if (out != nullptr) {
        std::memcpy(out, m_buffer.data() + m_begin, n);
        out += n;
      }
      m_begin += n;
      size -= n;
    }
    return true;
  }

  int m_fd;
  std::vector<char> m_buffer;
  std::size_t m_begin = 0;
  std::size_t m_end = 0;
  Checksum m_checksum;
};

// What the manifest says of one graph.
struct GraphEntry
{
  std::string tenant;
  std::string scope;
  std::size_t dim = 0;
  std::string file;
  std::uint64_t elements = 0;
  std::uint64_t capacity = 0;
  std::uint64_t bytes = 0;
  std::string checksum;
};

// A graph file's layout, as hnswlib 0.6.2's saveIndex writes it: a header,
// every element's level-0 block, then per element the size of its upper
// levels' links and those links. Checks what hnswlib would take on trust
// and fills in the element count, room and checksum.
void
scan_graph(const fs::path& path, const IndexParams& params, GraphEntry& entry)
{
  const std::size_t links0 = params.m * 2 * sizeof(Link) + sizeof(LinkCount);
  const std::size_t links = params.m * sizeof(Link) + sizeof(LinkCount);
  const std::size_t data = entry.dim * sizeof(float);
  const std::size_t block = links0 + data + sizeof(Label);

  FileScan scan(path);
  const auto offset_level0 = scan.read<std::size_t>();
  const auto capacity = scan.read<std::size_t>();
  const auto count = scan.read<std::size_t>();
  const auto size_per_element = scan.read<std::size_t>();
  const auto label_offset = scan.read<std::size_t>();
  const auto offset_data = scan.read<std::size_t>();
  const auto max_level = scan.read<int>();
  const auto entry_point = scan.read<Link>();
  const auto max_m = scan.read<std::size_t>();
  const auto max_m0 = scan.read<std::size_t>();
  const auto m = scan.read<std::size_t>();
  scan.read<double>(); // the level multiplier, 1 / ln(m)
  const auto ef_construction = scan.read<std::size_t>();

  if (offset_level0 != 0 || size_per_element != block || label_offset != links0 + data || offset_data != links0) {
    fail("its element layout is not that of this version");
  }
  if (m != params.m || max_m != params.m || max_m0 != params.m * 2
      || ef_construction != std::max(params.ef_construction, params.m)) {
    fail("its parameters are not those of the manifest");
  }
  if (count == 0 || capacity < count || capacity > std::max<std::size_t>(2 * count, 1024)) {
    fail(fmt::format("it claims {} elements in room for {}", count, capacity));
  }
  if (max_level < 0 || max_level > k_max_level || entry_point >= count) {
    fail("its top level or entry point is out of range");
  }
  if (count > (std::numeric_limits<std::uint64_t>::max() - 4096) / block) {
    fail("its element count is out of range");
  }
  scan.skip(count * block);
  for (std::size_t i = 0; i < count; ++i) {
    const auto size = scan.read<std::uint32_t>();
    if (size % links != 0 || size / links > static_cast<std::size_t>(max_level)) {
      fail("an element's upper levels do not fit the graph");
    }
    scan.skip(size);
  }
  if (!scan.at_end()) {
    fail("it has bytes after its last element");
  }
  entry.elements = count;
  entry.capacity = capacity;
  entry.checksum = hex(scan.checksum());
}

void
sync_path(const fs::path& path, bool directory)
{
  const int fd = ::open(path.c_str(), (directory ? O_RDONLY | O_DIRECTORY : O_RDWR) | O_CLOEXEC);
  if (fd < 0) {
    fail_errno(path.filename().string());
  }
  const int rc = ::fsync(fd);
  const int saved = errno;
  ::close(fd);
  if (rc != 0) {
    errno = saved;
    fail_errno("fsync " + path.filename().string());
  }
}

void
write_file(const fs::path& path, const std::string& text)
{
  const int fd = ::open(path.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
  if (fd < 0) {
    fail_errno(path.filename().string());
  }
  std::size_t done = 0;
  while (done < text.size()) {
    const ssize_t n = ::write(fd, text.data() + done, text.size() - done);
    if (n < 0 && errno == EINTR) {
      continue;
    }
    if (n < 0) {
      const int saved = errno;
      ::close(fd);
      errno = saved;
      fail_errno("write " + path.filename().string());
    }
    done += static_cast<std::size_t>(n);
  }
  const bool synced = ::fsync(fd) == 0;
  const int saved = errno;
  ::close(fd);
  if (!synced) {
    errno = saved;
    fail_errno("fsync " + path.filename().string());
  }
}

std::string
read_small_file(const fs::path& path)
{
  std::error_code ec;
  const auto size = fs::file_size(path, ec);
  if (ec) {
    fail(fmt::format("{}: {}", path.filename().string(), ec.message()));
  }
  if (size > k_max_manifest_bytes) {
    fail(fmt::format("{} is {} bytes, more than a manifest can be", path.filename().string(), size));
  }
  const int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0) {
    fail_errno(path.filename().string());
  }
  std::string text(size, '\0');
  std::size_t done = 0;
  while (done < text.size()) {
    const ssize_t n = ::read(fd, text.data() + done, text.size() - done);
    if (n <= 0) {
      break;
    }
    done += static_cast<std::size_t>(n);
  }
  ::close(fd);
  text.resize(done);
  return text;
}

// Empties `dir`, the manifest first so that no half-removed save is ever
// taken for a whole one.
void
clear_folder(const fs::path& dir)
{
  fs::remove(dir / k_manifest);
  for (const auto& item : fs::directory_iterator(dir)) {
    fs::remove_all(item.path());
  }
}

template<typename T>
T
field(const Json& object, const char* name)
{
  const auto it = object.find(name);
  if (it == object.end()) {
    fail(fmt::format("the manifest has no '{}'", name));
  }
  try {
    return it->get<T>();
  } catch (const Json::exception&) {
    fail(fmt::format("the manifest's '{}' is not of the right type", name));
  }
}

GraphEntry
graph_entry(const Json& item)
{
  if (!item.is_object()) {
    fail("the manifest's graphs are not objects");
  }
  GraphEntry entry;
  entry.tenant = field<std::string>(item, "tenant");
  entry.scope = field<std::string>(item, "scope");
  entry.dim = field<std::size_t>(item, "dim");
  entry.file = field<std::string>(item, "file");
  entry.elements = field<std::uint64_t>(item, "elements");
  entry.bytes = field<std::uint64_t>(item, "bytes");
  entry.checksum = field<std::string>(item, "checksum");
  // A plain name inside the folder, never a path out of it.
  if (entry.file.empty() || entry.file == k_manifest || entry.file.find('/') != std::string::npos
      || entry.file.front() == '.') {
    fail(fmt::format("the manifest names a file '{}'", entry.file));
  }
  if (entry.dim == 0 || entry.dim > 65536) {
    fail(fmt::format("the manifest gives {} dimensions", entry.dim));
  }
  return entry;
}

} // namespace

std::size_t
Index::save(const fs::path& dir, std::int64_t generation) const
{
  std::shared_lock lock(m_mutex);
  fs::create_directories(dir);
  fs::permissions(dir, fs::perms::owner_all); // the vectors say what was asked, as the database does
  // The previous save goes first: at no time do two take the room of one.
  clear_folder(dir);
  sync_path(dir, true);
  try {
    return write_files(dir, generation);
  } catch (...) {
    std::error_code ignored;
    for (const auto& item : fs::directory_iterator(dir, ignored)) {
      fs::remove(item.path(), ignored);
    }
    throw;
  }
}

std::size_t
Index::write_files(const fs::path& dir, std::int64_t generation) const
{
  Json graphs = Json::array();
  std::size_t vectors = 0;
  for (const auto& [key, graph] : m_graphs) {
    if (graph_live(*graph) == 0) {
      continue; // nothing to find in it
    }
    GraphEntry entry;
    const auto split = key.find('\0');
    entry.tenant = key.substr(0, split);
    entry.scope = key.substr(split + 1);
    entry.dim = graph_dim(*graph);
    entry.file = fmt::format("graph-{}.hnsw", graphs.size());
    const auto temporary = dir / (entry.file + ".tmp");
    write_graph(*graph, temporary);
    // hnswlib reports no write errors: a short or damaged file shows here.
    try {
      scan_graph(temporary, m_params, entry);
    } catch (const std::exception& e) {
      fail(fmt::format("{} was not written whole: {}", entry.file, e.what()));
    }
    if (entry.elements != graph_elements(*graph)) {
      fail(fmt::format("{} was not written whole", entry.file));
    }
    entry.bytes = fs::file_size(temporary);
    fs::permissions(temporary, fs::perms::owner_read | fs::perms::owner_write);
    sync_path(temporary, false);
    fs::rename(temporary, dir / entry.file);
    graphs.push_back({{"tenant", entry.tenant}, {"scope", entry.scope}, {"dim", entry.dim}, {"file", entry.file},
                      {"elements", entry.elements}, {"bytes", entry.bytes}, {"checksum", entry.checksum}});
    vectors += graph_live(*graph);
  }
  const Json manifest = {
    {"format", k_format},
    {"generation", generation},
    {"m", m_params.m},
    {"ef_construction", m_params.ef_construction},
    {"graphs", std::move(graphs)},
  };
  const auto temporary = dir / (std::string(k_manifest) + ".tmp");
  write_file(temporary, manifest.dump(2) + "\n");
  fs::rename(temporary, dir / k_manifest);
  sync_path(dir, true);
  return vectors;
}

LoadResult
Index::load(const fs::path& dir, std::int64_t generation)
{
  LoadResult result;
  try {
    if (!fs::exists(dir / k_manifest)) {
      result.reason = "no saved index";
      return result;
    }
    const Json manifest = Json::parse(read_small_file(dir / k_manifest), nullptr, false);
    if (!manifest.is_object()) {
      fail("the manifest is not a JSON object");
    }
    if (const auto format = field<int>(manifest, "format"); format != k_format) {
      fail(fmt::format("the manifest is of format {}, not {}", format, k_format));
    }
    if (const auto saved = field<std::int64_t>(manifest, "generation"); saved != generation) {
      fail(fmt::format("saved at generation {}, the database is at {}", saved, generation));
    }
    const auto m = field<std::size_t>(manifest, "m");
    const auto ef_construction = field<std::size_t>(manifest, "ef_construction");
    if (m != m_params.m || ef_construction != m_params.ef_construction) {
      fail(fmt::format("built with m = {}, ef_construction = {}; the configuration says {} and {}", m,
                       ef_construction, m_params.m, m_params.ef_construction));
    }
    const auto listed = manifest.find("graphs");
    if (listed == manifest.end() || !listed->is_array()) {
      fail("the manifest has no list of graphs");
    }
    Graphs graphs;
    std::size_t vectors = 0;
    for (const auto& item : *listed) {
      auto entry = graph_entry(item);
      const auto path = dir / entry.file;
      std::error_code ec;
      const auto bytes = fs::file_size(path, ec);
      if (ec) {
        fail(fmt::format("{}: {}", entry.file, ec.message()));
      }
      if (bytes != entry.bytes) {
        fail(fmt::format("{} is {} bytes, the manifest says {}", entry.file, bytes, entry.bytes));
      }
      GraphEntry found = entry;
      try {
        scan_graph(path, m_params, found);
      } catch (const std::exception& e) {
        fail(fmt::format("{}: {}", entry.file, e.what()));
      }
      if (found.elements != entry.elements || found.checksum != entry.checksum) {
        fail(fmt::format("{} does not match its checksum", entry.file));
      }
      auto key = scope_key(entry.tenant, entry.scope);
      if (graphs.contains(key)) {
        fail("the manifest lists a scope twice");
      }
      GraphPtr graph;
      try {
        graph = read_graph(path, entry.dim, found.capacity, m_params);
      } catch (const std::exception& e) {
        fail(fmt::format("{}: {}", entry.file, e.what()));
      }
      vectors += graph_live(*graph);
      graphs.emplace(std::move(key), std::move(graph));
    }
    std::unique_lock lock(m_mutex);
    m_graphs = std::move(graphs);
    result.loaded = true;
    result.vectors = vectors;
  } catch (const std::exception& e) {
    result.reason = e.what();
  } catch (...) {
    result.reason = "an unknown error";
  }
  return result;
}

} // namespace omnicache::store::semantic
