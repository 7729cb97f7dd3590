#pragma once

#include "protocol/error.hpp"

#include <optional>
#include <type_traits>
#include <utility>
#include <variant>

namespace omnicache::protocol {

// A value or the Error saying why there is none: what a parser returns when
// its callers want to test the outcome rather than catch it. std::expected is
// C++23; this is the part of it we use. It reads like std::optional (tests
// with `if (result)`, `*result`, value_or) so that a parser that used to
// return an optional keeps its callers, and it converts to one for those
// that only need to know whether the text parsed.
template<typename T>
class Expected
{
  static_assert(!std::is_same_v<T, Error>, "an Expected<Error> would not know which one it holds");

public:
  Expected(T value)
    : m_state(std::in_place_index<0>, std::move(value))
  {
  }
  Expected(Error error)
    : m_state(std::in_place_index<1>, std::move(error))
  {
  }

  bool has_value() const { return m_state.index() == 0; }
  explicit operator bool() const { return has_value(); }

  // Undefined without a value, as for std::optional.
  T& operator*() & { return *std::get_if<0>(&m_state); }
  const T& operator*() const& { return *std::get_if<0>(&m_state); }
  T&& operator*() && { return std::move(*std::get_if<0>(&m_state)); }
  T* operator->() { return std::get_if<0>(&m_state); }
  const T* operator->() const { return std::get_if<0>(&m_state); }

  // The value, or throws the Error: the throwing form for call sites that
  // let the failure travel up.
  T& value() &
  {
    throw_if_error();
    return **this;
  }
  const T& value() const&
  {
    throw_if_error();
    return **this;
  }
  T&& value() &&
  {
    throw_if_error();
    return std::move(**this);
  }

  template<typename U>
  T value_or(U&& fallback) const&
  {
    return has_value() ? **this : static_cast<T>(std::forward<U>(fallback));
  }

  // Undefined with a value.
  const Error& error() const { return *std::get_if<1>(&m_state); }

  operator std::optional<T>() const&
  {
    return has_value() ? std::optional<T>(**this) : std::nullopt;
  }

  friend bool operator==(const Expected& result, const T& value) { return result.has_value() && *result == value; }

private:
  void throw_if_error() const
  {
    if (!has_value()) {
      throw error();
    }
  }

  std::variant<T, Error> m_state;
};

// Success without a value, for checks and for parsers that fill in place.
struct Ok
{
  bool operator==(const Ok&) const = default;
};

} // namespace omnicache::protocol

// Evaluates `expr` (an Expected); on an error returns that error from the
// enclosing function, which must return an Expected too. Otherwise yields
// the value. Uses a GNU statement expression, which GCC and Clang both have.
#define OMNICACHE_TRY(expr)                                                                                           \
  ({                                                                                                                  \
    auto omnicache_try_result_ = (expr);                                                                              \
    if (!omnicache_try_result_) {                                                                                     \
      return omnicache_try_result_.error();                                                                           \
    }                                                                                                                 \
    std::move(*omnicache_try_result_);                                                                                \
  })
