// A checker for the Prometheus text exposition format (version 0.0.4), strict enough to catch what
// a scraper would refuse: every line is a HELP, TYPE or sample line; samples belong to the family
// of the TYPE line before them; no sample appears twice; histogram buckets are cumulative and end
// with le="+Inf" equal to _count. (Hand-written rather than std::regex: GCC 12's <regex> trips
// -Werror=maybe-uninitialized in sanitizer builds.)
#pragma once

#include <cstdlib>
#include <map>
#include <set>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace hc::api::testing {

namespace prometheus_internal {

inline bool IsNameChar(char c, bool first, bool allow_colon) {
  const bool alpha =
      (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || c == '_' || (allow_colon && c == ':');
  return alpha || (!first && c >= '0' && c <= '9');
}

// Consumes a metric (allow_colon) or label name from the front of `s`; empty when there is none.
inline std::string TakeName(std::string_view& s, bool allow_colon) {
  size_t n = 0;
  while (n < s.size() && IsNameChar(s[n], n == 0, allow_colon)) ++n;
  std::string out(s.substr(0, n));
  s.remove_prefix(n);
  return out;
}

inline bool IsValidName(std::string_view s, bool allow_colon) {
  std::string_view rest = s;
  return !TakeName(rest, allow_colon).empty() && rest.empty();
}

inline bool ParseValue(std::string_view s, double* out) {
  if (s == "+Inf" || s == "Inf") {
    *out = 1e308;
    return true;
  }
  if (s == "-Inf") {
    *out = -1e308;
    return true;
  }
  if (s == "NaN") {
    *out = 0;
    return true;
  }
  if (s.empty()) return false;
  const std::string text(s);
  char* end = nullptr;
  *out = std::strtod(text.c_str(), &end);
  return end == text.c_str() + text.size() && text.find_first_of("xXpP") == std::string::npos;
}

struct Sample {
  std::string name;
  std::vector<std::pair<std::string, std::string>> labels;  // values unescaped
  std::string label_text;                                   // as written, for duplicate checks
  double value = 0;
};

inline bool ParseSample(std::string_view line, Sample* out) {
  std::string_view s = line;
  out->name = TakeName(s, /*allow_colon=*/true);
  if (out->name.empty()) return false;
  const size_t labels_start = line.size() - s.size();
  if (!s.empty() && s.front() == '{') {
    s.remove_prefix(1);
    while (true) {
      std::string label = TakeName(s, /*allow_colon=*/false);
      if (label.empty() || s.size() < 2 || s[0] != '=' || s[1] != '"') return false;
      s.remove_prefix(2);
      std::string value;
      while (true) {
        if (s.empty() || s.front() == '\n') return false;
        const char c = s.front();
        s.remove_prefix(1);
        if (c == '"') break;
        if (c == '\\') {
          if (s.empty()) return false;
          const char e = s.front();
          s.remove_prefix(1);
          if (e == 'n') {
            value += '\n';
          } else if (e == '\\' || e == '"') {
            value += e;
          } else {
            return false;
          }
        } else {
          value += c;
        }
      }
      out->labels.emplace_back(std::move(label), std::move(value));
      if (s.empty()) return false;
      if (s.front() == ',') {
        s.remove_prefix(1);
        continue;
      }
      if (s.front() != '}') return false;
      s.remove_prefix(1);
      break;
    }
  }
  out->label_text = std::string(line.substr(labels_start, line.size() - s.size() - labels_start));
  if (s.empty() || s.front() != ' ') return false;
  s.remove_prefix(1);
  return ParseValue(s, &out->value);
}

}  // namespace prometheus_internal

inline bool IsValidPrometheusText(const std::string& text, std::string* error) {
  namespace pi = prometheus_internal;
  if (text.empty() || text.back() != '\n') {
    *error = "the exposition must end with a newline";
    return false;
  }
  std::string family;
  std::string type;
  std::set<std::string> seen_families;
  std::set<std::string> seen_samples;
  // Per histogram series (family + labels other than le).
  std::map<std::string, double> last_bucket;
  std::map<std::string, double> inf_bucket;
  std::map<std::string, double> counts;
  size_t start = 0;
  int n = 0;
  while (start < text.size()) {
    const size_t end = text.find('\n', start);
    const std::string_view line(text.data() + start, end - start);
    start = end + 1;
    ++n;
    const std::string where = "line " + std::to_string(n) + " '" + std::string(line) + "': ";
    if (line.starts_with("# HELP ")) {
      std::string_view rest = line.substr(7);
      if (pi::TakeName(rest, true).empty() || !rest.starts_with(" ")) {
        *error = where + "bad HELP line";
        return false;
      }
      continue;
    }
    if (line.starts_with("# TYPE ")) {
      std::string_view rest = line.substr(7);
      family = pi::TakeName(rest, true);
      type = rest.starts_with(" ") ? std::string(rest.substr(1)) : std::string();
      if (family.empty() || (type != "counter" && type != "gauge" && type != "histogram" &&
                             type != "summary" && type != "untyped")) {
        *error = where + "bad TYPE line";
        return false;
      }
      if (!seen_families.insert(family).second) {
        *error = where + "family declared twice";
        return false;
      }
      continue;
    }
    pi::Sample sample;
    if (!pi::ParseSample(line, &sample)) {
      *error = where + "not a HELP, TYPE or sample line";
      return false;
    }
    if (!seen_samples.insert(sample.name + sample.label_text).second) {
      *error = where + "duplicate sample";
      return false;
    }
    if (type == "histogram") {
      std::string series = family;
      std::string le;
      for (const auto& [k, v] : sample.labels) {
        if (k == "le") {
          le = v;
        } else {
          series += "|" + k + "=" + v;
        }
      }
      if (sample.name == family + "_bucket") {
        if (le.empty()) {
          *error = where + "bucket without le";
          return false;
        }
        if (last_bucket.count(series) && sample.value < last_bucket[series]) {
          *error = where + "buckets are not cumulative";
          return false;
        }
        last_bucket[series] = sample.value;
        if (le == "+Inf") inf_bucket[series] = sample.value;
      } else if (sample.name == family + "_count") {
        counts[series] = sample.value;
      } else if (sample.name != family + "_sum") {
        *error = where + "sample outside its histogram family";
        return false;
      }
    } else if (sample.name != family) {
      *error = where + "sample outside its family '" + family + "'";
      return false;
    }
  }
  for (const auto& [series, last] : last_bucket) {
    if (!inf_bucket.count(series)) {
      *error = "histogram series " + series + " has no le=\"+Inf\" bucket";
      return false;
    }
    if (!counts.count(series) || counts[series] != inf_bucket[series]) {
      *error = "histogram series " + series + ": _count differs from the +Inf bucket";
      return false;
    }
  }
  return true;
}

}  // namespace hc::api::testing
