// The file reader of `omnicache warm`, CSV and JSON Lines. The records must
// not depend on how the file is cut into reads; the good rows, written out
// again with every field quoted (CSV) or as JSON strings (JSON Lines), must
// read back the same.
#include "cli/import/table_reader.hpp"
#include "fuzz/fuzz_check.hpp"
#include "fuzz/scratch_file.hpp"

#include <nlohmann/json.hpp>

#include <algorithm>
#include <string>
#include <vector>

using namespace omnicache::cli::import;
using omnicache::fuzz::ScratchFile;

namespace {

struct Outcome
{
  std::string import_error; // empty: the file opened and its header read
  std::vector<std::string> columns;
  std::vector<Record> records;
};

bool
same_record(const Record& a, const Record& b)
{
  if (a.index() != b.index()) {
    return false;
  }
  if (const auto* row = std::get_if<Row>(&a)) {
    return row->line == std::get<Row>(b).line && row->fields == std::get<Row>(b).fields;
  }
  const auto& error = std::get<RowError>(a);
  return error.line == std::get<RowError>(b).line && error.message == std::get<RowError>(b).message;
}

bool
same(const Outcome& a, const Outcome& b)
{
  return a.import_error == b.import_error && a.columns == b.columns
         && std::equal(a.records.begin(), a.records.end(), b.records.begin(), b.records.end(), same_record);
}

Outcome
read_all(std::string_view bytes, Format format, ReaderLimits limits)
{
  static ScratchFile file;
  const std::string& path = file.write(bytes);
  Outcome out;
  try {
    TableReader reader(path, format, limits);
    out.columns = reader.columns();
    while (auto record = reader.next()) {
      out.records.push_back(std::move(*record));
    }
    FUZZ_CHECK(reader.bytes_read() == bytes.size() && reader.total_bytes() == bytes.size());
  } catch (const ImportError& e) {
    out.import_error = e.what();
    FUZZ_CHECK(!out.import_error.empty());
  }
  return out;
}

// Records start on later and later lines, and rows have the header's columns.
void
check_shape(const Outcome& outcome, Format format)
{
  std::size_t last_line = 0;
  for (const auto& record : outcome.records) {
    const std::size_t line = std::visit([](const auto& r) { return r.line; }, record);
    FUZZ_CHECK(line > last_line);
    last_line = line;
    const auto* row = std::get_if<Row>(&record);
    if (row == nullptr || format == Format::jsonl) {
      continue;
    }
    FUZZ_CHECK(row->fields.size() == outcome.columns.size());
    for (std::size_t i = 0; i < row->fields.size(); ++i) {
      FUZZ_CHECK(row->fields[i].first == outcome.columns[i]);
    }
  }
}

std::string
csv_quoted(std::string_view text)
{
  std::string out = "\"";
  for (const char c : text) {
    out += c == '"' ? "\"\"" : std::string(1, c);
  }
  return out + "\"";
}

std::string
rewritten(const Outcome& outcome, Format format)
{
  std::string out;
  if (format == Format::csv) {
    for (std::size_t i = 0; i < outcome.columns.size(); ++i) {
      out += (i == 0 ? "" : ",") + csv_quoted(outcome.columns[i]);
    }
    out += "\r\n";
  }
  for (const auto& record : outcome.records) {
    const auto* row = std::get_if<Row>(&record);
    if (row == nullptr) {
      continue;
    }
    if (format == Format::csv) {
      for (std::size_t i = 0; i < row->fields.size(); ++i) {
        out += (i == 0 ? "" : ",") + csv_quoted(row->fields[i].second);
      }
    } else {
      nlohmann::ordered_json object = nlohmann::ordered_json::object();
      for (const auto& [name, value] : row->fields) {
        object[name] = value;
      }
      out += object.dump();
    }
    out += "\n";
  }
  return out;
}

std::vector<std::vector<std::pair<std::string, std::string>>>
rows_of(const Outcome& outcome)
{
  std::vector<std::vector<std::pair<std::string, std::string>>> out;
  for (const auto& record : outcome.records) {
    if (const auto* row = std::get_if<Row>(&record)) {
      out.push_back(row->fields);
    }
  }
  return out;
}

} // namespace

extern "C" int
LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size)
{
  omnicache::fuzz::Input input(data, size);
  const std::uint8_t choice = input.byte();
  const Format format = choice & 1 ? Format::jsonl : Format::csv;
  const std::size_t chunk = 1 + input.byte() % 32;
  const std::size_t short_record = 1 + input.byte() % 64;
  const std::string_view bytes = input.rest();

  // Inputs are far smaller than these, so each file is read whole and no
  // record reaches the limit: the cut cannot matter.
  const ReaderLimits whole_file{std::size_t{1} << 16, std::size_t{1} << 20};
  const Outcome whole = read_all(bytes, format, whole_file);
  const Outcome cut = read_all(bytes, format, {chunk, whole_file.max_record_bytes});
  FUZZ_CHECK(same(whole, cut));
  check_shape(whole, format);
  // A small record limit only has to keep the records in order.
  check_shape(read_all(bytes, format, {chunk, short_record}), format);

  if (whole.import_error.empty() && (format == Format::jsonl || !whole.columns.empty())) {
    const Outcome again = read_all(rewritten(whole, format), format, whole_file);
    FUZZ_CHECK(again.import_error.empty() && again.columns == whole.columns);
    FUZZ_CHECK(rows_of(again) == rows_of(whole));
    FUZZ_CHECK(again.records.size() == rows_of(whole).size());
  }
  return 0;
}
