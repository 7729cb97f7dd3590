#include "cli/export/entry_writer.hpp"

#include "cli/import/utf8.hpp"
#include "cli/output.hpp"

#include <fmt/core.h>
#include <nlohmann/json.hpp>

#include <algorithm>
#include <cerrno>
#include <system_error>

namespace omnicache::cli::export_file {

namespace {

using protocol::Json;

constexpr std::string_view k_export_csv_header = "key,layer,ttl,tags,deps,meta,encoding,value\n";

// What the value is written as, and the encoding column that says so.
struct WrittenValue
{
  std::string_view encoding;
  std::string text;
};

WrittenValue
written_value(std::string_view value)
{
  if (value.empty()) {
    return {"text", {}};
  }
  if (!import::is_utf8(value)) {
    return {"base64", output::base64(value)};
  }
  return {"", std::string(value)};
}

std::string
export_ttl(const Json& entry)
{
  const auto ttl = entry.find("ttl_ms");
  return ttl == entry.end() || ttl->is_null() ? std::string("never") : fmt::format("{}ms", ttl->get<std::int64_t>());
}

// Whether a list of names cannot be written as "a;b" and read back the same:
// warm splits at ';', trims blanks, and reads a field that starts with '['
// as a JSON array.
bool
needs_json_list(const Json& list)
{
  return std::any_of(list.begin(), list.end(), [](const Json& item) {
    if (!item.is_string()) {
      return false;
    }
    const auto& name = item.get_ref<const std::string&>();
    return name.empty() || name.find(';') != std::string::npos || name.front() == '[' || name.front() == ' '
           || name.front() == '\t' || name.back() == ' ' || name.back() == '\t';
  });
}

std::string
tags_cell(const Json& entry)
{
  const auto tags = entry.value("tags", Json::array());
  if (needs_json_list(tags)) {
    return tags.dump();
  }
  std::string out;
  for (const auto& tag : tags) {
    out += out.empty() ? "" : ";";
    out += tag.get_ref<const std::string&>();
  }
  return out;
}

// Compact JSON, or nothing for null and empty arrays.
std::string
json_cell(const Json& entry, const char* field)
{
  const auto it = entry.find(field);
  if (it == entry.end() || it->is_null() || (it->is_array() && it->empty())) {
    return {};
  }
  return it->dump();
}

// RFC 4180: quoted when it holds a separator, a quote or a line break.
void
append_csv_field(std::string& line, std::string_view text)
{
  if (text.find_first_of(",\"\r\n") == std::string_view::npos) {
    line += text;
    return;
  }
  line += '"';
  for (const char c : text) {
    line += c;
    if (c == '"') {
      line += '"';
    }
  }
  line += '"';
}

} // namespace

EntryWriter::EntryWriter(std::FILE* out, import::Format format)
  : m_out(out),
    m_format(format)
{
}

void
EntryWriter::begin()
{
  if (m_format == import::Format::csv) {
    put(k_export_csv_header);
  }
}

void
EntryWriter::write(const Json& entry, std::string_view value)
{
  if (m_format == import::Format::csv) {
    write_csv(entry, value);
  } else {
    write_jsonl(entry, value);
  }
}

void
EntryWriter::write_csv(const Json& entry, std::string_view value)
{
  const auto written = written_value(value);
  m_line.clear();
  const std::string cells[] = {
    entry.at("key").get<std::string>(), entry.at("layer").get<std::string>(), export_ttl(entry),
    tags_cell(entry), json_cell(entry, "deps"), json_cell(entry, "meta"), std::string(written.encoding),
  };
  for (const auto& cell : cells) {
    append_csv_field(m_line, cell);
    m_line += ',';
  }
  append_csv_field(m_line, written.text);
  m_line += '\n';
  put(m_line);
}

void
EntryWriter::write_jsonl(const Json& entry, std::string_view value)
{
  auto written = written_value(value);
  nlohmann::ordered_json line{{"key", entry.at("key")}, {"layer", entry.at("layer")}, {"ttl", export_ttl(entry)}};
  for (const char* field : {"tags", "deps"}) {
    if (const auto it = entry.find(field); it != entry.end() && it->is_array() && !it->empty()) {
      // warm's reader joins an array of strings with ';': names that the
      // join would change go as the array's JSON text instead.
      line[field] = needs_json_list(*it) ? nlohmann::ordered_json(it->dump()) : nlohmann::ordered_json(*it);
    }
  }
  if (const auto meta = entry.find("meta"); meta != entry.end() && !meta->is_null()) {
    line["meta"] = *meta;
  }
  if (!written.encoding.empty()) {
    line["encoding"] = written.encoding;
  }
  line["value"] = std::move(written.text);
  m_line = line.dump();
  m_line += '\n';
  put(m_line);
}

void
EntryWriter::put(std::string_view bytes)
{
  if (std::fwrite(bytes.data(), 1, bytes.size(), m_out) != bytes.size()) {
    throw std::system_error(errno, std::generic_category());
  }
}

} // namespace omnicache::cli::export_file
