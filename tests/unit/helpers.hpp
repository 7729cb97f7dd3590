#pragma once

#include <cerrno>
#include <cmath>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <map>
#include <optional>
#include <random>
#include <string>
#include <string_view>
#include <system_error>
#include <utility>
#include <vector>

// Small helpers shared by the unit tests.
namespace omnicache::unit {

// A random vector of length 1: uniform on the sphere.
inline std::vector<float>
unit_vector(std::mt19937& rng, std::size_t dim)
{
  std::normal_distribution<float> normal;
  std::vector<float> v(dim);
  float norm = 0;
  for (auto& x : v) {
    x = normal(rng);
    norm += x * x;
  }
  for (auto& x : v) {
    x /= std::sqrt(norm);
  }
  return v;
}

// A fresh directory under the system temporary folder, removed with
// everything in it when the test is done.
class TempDir
{
public:
  TempDir()
  {
    std::string pattern = (std::filesystem::temp_directory_path() / "omnicache-unit-XXXXXX").string();
    if (::mkdtemp(pattern.data()) == nullptr) {
      throw std::system_error(errno, std::generic_category(), "mkdtemp");
    }
    m_path = pattern;
  }
  ~TempDir()
  {
    std::error_code ec;
    std::filesystem::remove_all(m_path, ec);
  }
  TempDir(const TempDir&) = delete;
  TempDir& operator=(const TempDir&) = delete;

  const std::filesystem::path& path() const { return m_path; }
  std::string file(std::string_view name) const { return (m_path / name).string(); }

  // Writes `text` to `name` (creating its folders) and returns the full path.
  std::string write(std::string_view name, std::string_view text) const
  {
    const auto target = m_path / name;
    std::filesystem::create_directories(target.parent_path());
    std::ofstream out(target, std::ios::binary);
    out.write(text.data(), static_cast<std::streamsize>(text.size()));
    return target.string();
  }

private:
  std::filesystem::path m_path;
};

// The exception of type E that `f` throws, or nullopt when it throws none.
template<typename E, typename F>
std::optional<E>
thrown(F&& f)
{
  try {
    std::forward<F>(f)();
  } catch (const E& e) {
    return e;
  }
  return std::nullopt;
}

inline bool
contains(std::string_view text, std::string_view part)
{
  return text.find(part) != std::string_view::npos;
}

// An environment made of exactly these variables, so that no test depends on
// the real one.
inline auto
fake_env(std::map<std::string, std::string> vars)
{
  return [vars = std::move(vars)](const char* name) -> std::optional<std::string> {
    const auto it = vars.find(name);
    if (it == vars.end()) {
      return std::nullopt;
    }
    return it->second;
  };
}

} // namespace omnicache::unit
