// HC_ASSERT*: invariant checks that abort in every build type (release included).
//
// A broken invariant is a bug, not an expected failure: aborting turns a correctness bug into a
// liveness bug (TigerBeetle). Never assert on input from a peer, a client or the disk; validate it
// and return a Status instead. The comparison forms print both operands.
#pragma once

#include <sstream>
#include <string>

namespace hc::internal {

[[noreturn]] void AssertFail(const char* file, int line, const char* expr,
                             const std::string& detail);

template <typename T>
std::string AssertRepr(const T& v) {
  if constexpr (requires(std::ostream & os) { os << v; }) {
    std::ostringstream os;
    if constexpr (std::is_same_v<T, unsigned char> || std::is_same_v<T, signed char>) {
      os << static_cast<int>(v);
    } else {
      os << v;
    }
    return os.str();
  } else if constexpr (requires { v.value(); }) {
    return AssertRepr(v.value());
  } else {
    return "<unprintable>";
  }
}

}  // namespace hc::internal

#define HC_ASSERT(cond)                                                     \
  do {                                                                      \
    if (!(cond)) [[unlikely]] {                                             \
      ::hc::internal::AssertFail(__FILE__, __LINE__, #cond, std::string()); \
    }                                                                       \
  } while (0)

#define HC_ASSERT_MSG(cond, msg)                                    \
  do {                                                              \
    if (!(cond)) [[unlikely]] {                                     \
      ::hc::internal::AssertFail(__FILE__, __LINE__, #cond, (msg)); \
    }                                                               \
  } while (0)

#define HC_ASSERT_OP_(a, b, op)                                                        \
  do {                                                                                 \
    const auto& hc_a_ = (a);                                                           \
    const auto& hc_b_ = (b);                                                           \
    if (!(hc_a_ op hc_b_)) [[unlikely]] {                                              \
      ::hc::internal::AssertFail(__FILE__, __LINE__, #a " " #op " " #b,                \
                                 "left: " + ::hc::internal::AssertRepr(hc_a_) +        \
                                     ", right: " + ::hc::internal::AssertRepr(hc_b_)); \
    }                                                                                  \
  } while (0)

#define HC_ASSERT_EQ(a, b) HC_ASSERT_OP_(a, b, ==)
#define HC_ASSERT_NE(a, b) HC_ASSERT_OP_(a, b, !=)
#define HC_ASSERT_LT(a, b) HC_ASSERT_OP_(a, b, <)
#define HC_ASSERT_LE(a, b) HC_ASSERT_OP_(a, b, <=)
#define HC_ASSERT_GT(a, b) HC_ASSERT_OP_(a, b, >)
#define HC_ASSERT_GE(a, b) HC_ASSERT_OP_(a, b, >=)

// Marks code that a correct program never reaches.
#define HC_UNREACHABLE() \
  ::hc::internal::AssertFail(__FILE__, __LINE__, "unreachable", std::string())
