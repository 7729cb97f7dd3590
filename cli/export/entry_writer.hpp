#pragma once

#include "cli/import/table_reader.hpp"
#include "protocol/message.hpp"

#include <cstdio>
#include <string>
#include <string_view>

// Writes what `omnicache export` pages through, in the CSV or JSON Lines
// that `omnicache warm` reads back: one record per entry, with the columns
// key, layer, ttl (the TTL left, as "1234ms", or "never"), tags (joined with
// ';'), deps and meta (JSON), encoding and value. A value that is not UTF-8
// text is written as base64 with encoding "base64"; an empty value has
// encoding "text", since an empty field means "absent" to warm.
namespace omnicache::cli::export_file {

class EntryWriter
{
public:
  // `out` stays the caller's to close.
  EntryWriter(std::FILE* out, import::Format format);

  // The CSV header; nothing for JSON Lines.
  void begin();
  // One entry as the `export` op describes it, and its value.
  void write(const protocol::Json& entry, std::string_view value);

private:
  void write_csv(const protocol::Json& entry, std::string_view value);
  void write_jsonl(const protocol::Json& entry, std::string_view value);
  void put(std::string_view bytes);

  std::FILE* m_out;
  import::Format m_format;
  std::string m_line; // the record being written, reused
};

} // namespace omnicache::cli::export_file
