#include "cli/import/table_reader.hpp"
#include "tests/unit/helpers.hpp"

#include <doctest/doctest.h>
#include <fmt/core.h>

#include <string>
#include <string_view>
#include <utility>
#include <vector>

using namespace omnicache::cli::import;
using omnicache::unit::contains;
using omnicache::unit::TempDir;
using omnicache::unit::thrown;

namespace {

// CR and LF shown as \r and \n, so that a record reads as one line.
std::string
visible(std::string_view text)
{
  std::string out;
  for (const char c : text) {
    out += c == '\n' ? "\\n" : c == '\r' ? "\\r" : std::string(1, c);
  }
  return out;
}

// "2: key=a | value=b" for a row, "5! message" for an error.
std::string
describe(const Record& record)
{
  if (const auto* error = std::get_if<RowError>(&record)) {
    return fmt::format("{}! {}", error->line, error->message);
  }
  const auto& row = std::get<Row>(record);
  std::string out = fmt::format("{}:", row.line);
  for (std::size_t i = 0; i < row.fields.size(); ++i) {
    out += fmt::format("{}{}={}", i == 0 ? " " : " | ", row.fields[i].first, visible(row.fields[i].second));
  }
  return out;
}

// Every record of the file, one per line of the result.
std::string
read_all(TableReader& reader)
{
  std::string out;
  while (const auto record = reader.next()) {
    out += describe(*record) + "\n";
  }
  return out;
}

std::string
read_all(const std::string& path, Format format = Format::csv, ReaderLimits limits = {})
{
  TableReader reader(path, format, limits);
  return read_all(reader);
}

// The folder of this run's fixture files, removed when the tests end.
const TempDir&
fixtures()
{
  static const TempDir dir;
  return dir;
}

std::string
fixture(std::string_view extension, std::string_view text)
{
  static int count = 0;
  return fixtures().write(fmt::format("{}.{}", ++count, extension), text);
}

std::string
csv(std::string_view text)
{
  return fixture("csv", text);
}

std::string
jsonl(std::string_view text)
{
  return fixture("jsonl", text);
}

ReaderLimits
chunks_of(std::size_t bytes)
{
  ReaderLimits limits;
  limits.chunk_bytes = bytes;
  return limits;
}

// The ImportError message for opening `path`, or "" when it opens.
std::string
import_error(const std::string& path, Format format = Format::csv)
{
  const auto error = thrown<ImportError>([&] { TableReader reader(path, format); });
  return error ? error->what() : "";
}

} // namespace

TEST_SUITE("cli.table_reader")
{
  TEST_CASE("plain rows come with their columns and the line they start on")
  {
    const auto path = csv("key,value,ttl\nk1,hello,10m\nk2,world,\n");
    TableReader reader(path, Format::csv);
    CHECK(reader.columns() == std::vector<std::string>{"key", "value", "ttl"});
    CHECK(read_all(reader)
          == "2: key=k1 | value=hello | ttl=10m\n"
             "3: key=k2 | value=world | ttl=\n");
  }

  TEST_CASE("a quoted field may hold commas, quotes and newlines")
  {
    const auto path = csv("key,value\n"
                          "a,\"x, y\"\n"
                          "b,\"say \"\"hi\"\"\"\n"
                          "c,\"two\nlines\"\n"
                          "d,\"crlf\r\ninside\"\r\n"
                          "e,\"\"\n"
                          "\"f\",\"\n\n\"\n"
                          "g,after\n");
    CHECK(read_all(path)
          == "2: key=a | value=x, y\n"
             "3: key=b | value=say \"hi\"\n"
             "4: key=c | value=two\\nlines\n"
             "6: key=d | value=crlf\\r\\ninside\n"
             "8: key=e | value=\n"
             "9: key=f | value=\\n\\n\n"
             "12: key=g | value=after\n");
  }

  TEST_CASE("a quoted header may hold commas and quotes")
  {
    TableReader reader(csv("\"a,b\",\"say \"\"x\"\"\",plain\n1,2,3\n"), Format::csv);
    CHECK(reader.columns() == std::vector<std::string>{"a,b", "say \"x\"", "plain"});
    CHECK(read_all(reader) == "2: a,b=1 | say \"x\"=2 | plain=3\n");
  }

  TEST_CASE("a byte order mark at the very start is skipped, elsewhere it is data")
  {
    TableReader reader(csv("\xEF\xBB\xBFkey,value\na,\xEF\xBB\xBF\n"), Format::csv);
    CHECK(reader.columns() == std::vector<std::string>{"key", "value"});
    CHECK(read_all(reader) == "2: key=a | value=\xEF\xBB\xBF\n");
  }

  TEST_CASE("CRLF files read like LF files")
  {
    CHECK(read_all(csv("key,value\r\na,1\r\nb,\"2\"\r\n\r\nc,3\r\n"))
          == "2: key=a | value=1\n"
             "3: key=b | value=2\n"
             "5: key=c | value=3\n");
  }

  TEST_CASE("a file may mix LF and CRLF, and a CR without LF is data")
  {
    CHECK(read_all(csv("key,value\na,1\r\nb,x\ry\nc,3\rd\r\ne,\r\n"))
          == "2: key=a | value=1\n"
             "3: key=b | value=x\\ry\n"
             "4: key=c | value=3\\rd\n"
             "5: key=e | value=\n");
  }

  TEST_CASE("UTF-8 text is kept byte for byte and values are not trimmed")
  {
    const std::string japanese = "キャッシュ、東京";
    const std::string emoji = "\xF0\x9F\x98\x80 \xF0\x9F\x91\x8D\xF0\x9F\x8F\xBD";
    const std::string combining = "e\xCC\x81";
    const auto path = csv("key,value\n" + japanese + "," + emoji + "\n" + combining + ",  spaced  \n");
    TableReader reader(path, Format::csv);
    auto first = reader.next();
    REQUIRE(first);
    const auto& row = std::get<Row>(*first);
    CHECK(row.fields[0].second == japanese);
    CHECK(row.fields[1].second == emoji);
    CHECK(read_all(reader) == "3: key=" + combining + " | value=  spaced  \n");
  }

  TEST_CASE("a row with the wrong number of fields is an error and the rows around it still come through")
  {
    CHECK(read_all(csv("a,b,c,d\n1,2,3,4\n1,2,3\n\"x\ny\",2,3,4,5\n5,6,7,8\n"))
          == "2: a=1 | b=2 | c=3 | d=4\n"
             "3! 3 fields, header has 4\n"
             "4! 5 fields, header has 4\n"
             "6: a=5 | b=6 | c=7 | d=8\n");
    CHECK(read_all(csv("a,b\nlonely\n1,2\n")) == "2! 1 field, header has 2\n3: a=1 | b=2\n");
  }

  TEST_CASE("an unterminated quote at the end of the file names the line where it opens")
  {
    CHECK(read_all(csv("key,value\na,1\nb,\"never closed\nc,3\n"))
          == "2: key=a | value=1\n"
             "3! unterminated quoted field\n"
             "4: key=c | value=3\n");
    CHECK(read_all(csv("key,value\n\"multi\nline\",\"open")) == "2! unterminated quoted field on line 3\n");
  }

  TEST_CASE("an unbalanced opening quote costs only its own record")
  {
    // The quote opened on line 3 closes on line 5, where text follows it.
    CHECK(read_all(csv("key,value\na,1\nb,\"2\nc,3\nd,\"4\"\ne,5\n"))
          == "2: key=a | value=1\n"
             "3! unexpected character after a closing quote on line 5\n"
             "4: key=c | value=3\n"
             "5: key=d | value=4\n"
             "6: key=e | value=5\n");
  }

  TEST_CASE("a quote inside an unquoted field is an error for that row")
  {
    CHECK(read_all(csv("key,value\na,5\" screen\nb,2\n\"x\ny\",z\"\nc,3\n"))
          == "2! quote inside an unquoted field\n"
             "3: key=b | value=2\n"
             "4! quote inside an unquoted field on line 5\n"
             "6: key=c | value=3\n");
  }

  TEST_CASE("text after a closing quote is an error for that row")
  {
    CHECK(read_all(csv("key,value\na,\"quoted\" tail\nb,\"x\"\ry\nc,3\n"))
          == "2! unexpected character after a closing quote\n"
             "3! unexpected character after a closing quote\n"
             "4: key=c | value=3\n");
  }

  TEST_CASE("the last record needs no newline")
  {
    CHECK(read_all(csv("key,value\na,1")) == "2: key=a | value=1\n");
    CHECK(read_all(csv("key,value\na,\"1\"")) == "2: key=a | value=1\n");
    CHECK(read_all(csv("key,value\na,")) == "2: key=a | value=\n");
    CHECK(read_all(csv("key,value\r\na,1\r\n")) == "2: key=a | value=1\n");
  }

  TEST_CASE("blank lines are skipped wherever they are")
  {
    TableReader reader(csv("\n\r\nkey,value\n\na,1\n\n\r\nb,2\n\n\n"), Format::csv);
    CHECK(reader.columns() == std::vector<std::string>{"key", "value"});
    CHECK(read_all(reader) == "5: key=a | value=1\n8: key=b | value=2\n");
  }

  TEST_CASE("an empty quoted field is a value, not a blank line")
  {
    CHECK(read_all(csv("value\n\"\"\n\nx\n")) == "2: value=\n4: value=x\n");
  }

  TEST_CASE("a file without a header is refused with its name")
  {
    const auto empty = csv("");
    CHECK(import_error(empty) == empty + ": no header row: the file is empty");
    const auto blank = csv("\n\r\n\n");
    CHECK(import_error(blank) == blank + ": no header row: the file is blank");
    const auto bom_only = csv("\xEF\xBB\xBF");
    CHECK(import_error(bom_only) == bom_only + ": no header row: the file is blank");
  }

  TEST_CASE("a file with only a header has no rows")
  {
    for (const char* text : {"key,value", "key,value\n", "key,value\r\n\n\n"}) {
      CAPTURE(visible(text));
      TableReader reader(csv(text), Format::csv);
      CHECK(reader.columns() == std::vector<std::string>{"key", "value"});
      CHECK_FALSE(reader.next());
      CHECK_FALSE(reader.next()); // and stays at the end
    }
  }

  TEST_CASE("a broken header is refused with the file and line")
  {
    const auto duplicate = csv("\nkey,value,key\n");
    CHECK(import_error(duplicate) == duplicate + ":2: columns 1 and 3 are both named \"key\"");
    CHECK(contains(import_error(csv("key,\"key\"\n")), ":1: columns 1 and 2 are both named \"key\""));
    const auto unnamed = csv("key,,value\n");
    CHECK(import_error(unnamed) == unnamed + ":1: column 2 of the header has no name");
    const auto stray_quote = csv("key,val\"ue\n");
    CHECK(import_error(stray_quote) == stray_quote + ":1: bad header: quote inside an unquoted field");
    const auto unterminated = csv("key,\"value\na,1\n");
    CHECK(import_error(unterminated) == unterminated + ":1: bad header: unterminated quoted field");
    const auto not_utf8 = csv("key,valu\xFF\n");
    CHECK(import_error(not_utf8) == not_utf8 + ":1: column 2 of the header is not valid UTF-8");
  }

  TEST_CASE("a file that cannot be opened is refused with its name")
  {
    const auto missing = fixtures().file("missing.csv");
    CHECK(import_error(missing) == "cannot open " + missing + ": No such file or directory");
    CHECK(import_error(missing, Format::jsonl) == "cannot open " + missing + ": No such file or directory");
    const auto folder = fixtures().path().string();
    CHECK(import_error(folder) == "cannot read " + folder + ": it is a directory");
  }

  TEST_CASE("a field that is not valid UTF-8 is an error naming its column")
  {
    for (const std::string bytes : {"\xFF", "\xC3", "\x80", "ab\xC3(", "\xC0\xAF", "\xE0\x80\xAF", "\xED\xA0\x80",
                                    "\xF4\x90\x80\x80", "\xF0\x9F\x98", "a long ASCII run and then \xFE"}) {
      CAPTURE(bytes.size());
      CHECK(read_all(csv("key,value\na," + bytes + "\nb,ok\n"))
            == "2! not valid UTF-8 in column value\n3: key=b | value=ok\n");
    }
    CHECK(read_all(csv("key,value\n\"\xFF\",x\n")) == "2! not valid UTF-8 in column key\n");
  }

  TEST_CASE("UTF-8 at the edges of its ranges is accepted")
  {
    for (const std::string bytes : {"\xC2\x80", "\xDF\xBF", "\xE0\xA0\x80", "\xED\x9F\xBF", "\xEE\x80\x80",
                                    "\xEF\xBF\xBF", "\xF0\x90\x80\x80", "\xF4\x8F\xBF\xBF"}) {
      CAPTURE(bytes.size());
      CHECK(read_all(csv("key,value\na," + bytes + "\n")) == "2: key=a | value=" + bytes + "\n");
    }
  }

  TEST_CASE("records split across reads come out the same")
  {
    const auto path = csv("\xEF\xBB\xBF"
                          "key,value\r\n"
                          "a,\"x\"\"y\"\r\n"
                          "b,\"multi\r\nline\"\n"
                          "\n"
                          "c,5\" bad\n"
                          "d,\xE3\x82\xAD\r\n"
                          "e,\"open\n"
                          "f,last");
    const std::string expected = "2: key=a | value=x\"y\n"
                                 "3: key=b | value=multi\\r\\nline\n"
                                 "6! quote inside an unquoted field\n"
                                 "7: key=d | value=\xE3\x82\xAD\n"
                                 "8! unterminated quoted field\n"
                                 "9: key=f | value=last\n";
    CHECK(read_all(path) == expected);
    for (std::size_t chunk = 1; chunk <= 24; ++chunk) {
      CAPTURE(chunk);
      CHECK(read_all(path, Format::csv, chunks_of(chunk)) == expected);
    }
  }

  TEST_CASE("a record longer than the limit is an error and reading goes on")
  {
    ReaderLimits limits;
    limits.chunk_bytes = 4;
    limits.max_record_bytes = 32;
    const std::string long_value(100, 'x');
    CHECK(read_all(csv("key,value\na,1\nb," + long_value + "\nc,3\n"), Format::csv, limits)
          == "2: key=a | value=1\n"
             "3! record longer than 32 bytes (is a quote missing its pair?)\n"
             "4: key=c | value=3\n");
    // An unbalanced quote in a big file: the lines after it still come through.
    std::string rest;
    for (int i = 0; i < 20; ++i) {
      rest += fmt::format("k{},{}\n", i, i);
    }
    const auto out = read_all(csv("key,value\nb,\"open\n" + rest), Format::csv, limits);
    CHECK(out.starts_with("2! record longer than 32 bytes (is a quote missing its pair?)\n3: key=k0 | value=0\n"));
    CHECK(out.ends_with("22: key=k19 | value=19\n"));
    const auto long_header = csv(long_value + "\n");
    const auto error = thrown<ImportError>([&] { TableReader reader(long_header, Format::csv, limits); });
    REQUIRE(error);
    CHECK(std::string(error->what()) == long_header + ":1: the header is longer than 32 bytes");
  }

  TEST_CASE("bytes read grows to the size of the file")
  {
    const std::string text = "\xEF\xBB\xBFkey,value\na,1\nb,\"2\"\n\n";
    TableReader reader(csv(text), Format::csv, chunks_of(4));
    CHECK(reader.total_bytes() == text.size());
    std::uint64_t last = reader.bytes_read();
    CHECK(last == 13); // the BOM and the header
    while (reader.next()) {
      CHECK(reader.bytes_read() > last);
      last = reader.bytes_read();
    }
    CHECK(reader.bytes_read() == text.size());
  }

  TEST_CASE("a reader can be moved and goes on where it was")
  {
    TableReader first(csv("key\na\nb\n"), Format::csv);
    REQUIRE(first.next());
    TableReader second(std::move(first));
    CHECK(second.columns() == std::vector<std::string>{"key"});
    CHECK(read_all(second) == "3: key=b\n");
  }

  TEST_CASE("200000 small rows are read back in order")
  {
    constexpr std::size_t k_rows = 200'000;
    std::string text = "key,value,ttl\n";
    for (std::size_t i = 0; i < k_rows; ++i) {
      text += fmt::format("key:{},\"value, number {}\",{}\n", i, i, i % 3600);
    }
    TableReader reader(csv(text), Format::csv);
    std::size_t count = 0;
    std::optional<std::size_t> first_wrong;
    while (const auto record = reader.next()) {
      const auto* row = std::get_if<Row>(&*record);
      const bool right = row != nullptr && row->line == count + 2 && row->fields.size() == 3
                         && row->fields[0].second == fmt::format("key:{}", count)
                         && row->fields[1].second == fmt::format("value, number {}", count)
                         && row->fields[2].second == fmt::format("{}", count % 3600);
      if (!right && !first_wrong) {
        first_wrong = count;
      }
      ++count;
    }
    CHECK(count == k_rows);
    CHECK_FALSE(first_wrong);
    CHECK(reader.bytes_read() == text.size());
  }

  TEST_CASE("formats are named csv and jsonl, and guessed from the extension")
  {
    CHECK(format_from_name("csv") == Format::csv);
    CHECK(format_from_name("jsonl") == Format::jsonl);
    CHECK_FALSE(format_from_name("json"));
    CHECK_FALSE(format_from_name("CSV"));
    CHECK(format_name(Format::csv) == "csv");
    CHECK(format_name(Format::jsonl) == "jsonl");
    CHECK(guess_format("runs/today.jsonl") == Format::jsonl);
    CHECK(guess_format("today.NDJSON") == Format::jsonl);
    CHECK(guess_format("today.csv") == Format::csv);
    CHECK(guess_format("today.txt") == Format::csv);
    CHECK(guess_format("export.jsonl/data") == Format::csv);
    CHECK(guess_format("jsonl") == Format::csv);
    CHECK(guess_format("-") == Format::csv);
  }

  TEST_CASE("JSON lines become fields in the order of their members")
  {
    const auto path = jsonl("{\"key\":\"k1\",\"value\":\"hello\",\"ttl\":3600,\"pinned\":true,\"score\":1.5,\"gone\":null}\n"
                            "{\"value\":\"a\\nb \\u00e9 \\ud83d\\ude00\",\"key\":\"k2\",\"off\":false,\"n\":-7}\n"
                            "{}\n");
    TableReader reader(path, Format::jsonl);
    CHECK(reader.columns().empty());
    CHECK(read_all(reader)
          == "1: key=k1 | value=hello | ttl=3600 | pinned=true | score=1.5\n"
             "2: value=a\\nb \xC3\xA9 \xF0\x9F\x98\x80 | key=k2 | off=false | n=-7\n"
             "3:\n");
  }

  TEST_CASE("arrays of strings are joined with semicolons and other values stay JSON")
  {
    CHECK(read_all(jsonl("{\"tags\":[\"a\",\"b\"],\"one\":[\"x\"],\"none\":[],\"nums\":[1,2],\"mixed\":[\"a\",1],"
                         "\"usage\":{\"output\":4,\"input\":3},"
                         "\"messages\":[{\"role\":\"user\",\"content\":\"hi\"}]}\n"),
                   Format::jsonl)
          == "1: tags=a;b | one=x | none= | nums=[1,2] | mixed=[\"a\",1] | usage={\"output\":4,\"input\":3}"
             " | messages=[{\"role\":\"user\",\"content\":\"hi\"}]\n");
  }

  TEST_CASE("a line that is not valid JSON is an error and reading goes on")
  {
    const auto out = read_all(jsonl("{\"key\":\"a\"}\n"
                                    "{\"key\": tru}\n"
                                    "{\"key\":\"b\"\n"
                                    "{\"key\":\"\xFF\"}\n"
                                    "{\"key\":\"c\"}\n"),
                              Format::jsonl);
    CHECK(out.starts_with("1: key=a\n2! not valid JSON: syntax error while parsing value - invalid literal (column "));
    CHECK(contains(out, "\n3! not valid JSON: syntax error while parsing object - unexpected end of input"));
    CHECK(contains(out, "\n4! not valid JSON: syntax error while parsing value - invalid string: ill-formed UTF-8"));
    CHECK(out.ends_with("\n5: key=c\n"));
    CHECK_FALSE(contains(out, "last read")); // no bytes of the line in the message
  }

  TEST_CASE("a line that is not a JSON object is an error")
  {
    CHECK(read_all(jsonl("[1,2]\n\"text\"\n42\ntrue\nnull\n{\"key\":\"ok\"}\n"), Format::jsonl)
          == "1! expected a JSON object, found an array\n"
             "2! expected a JSON object, found a string\n"
             "3! expected a JSON object, found a number\n"
             "4! expected a JSON object, found a boolean\n"
             "5! expected a JSON object, found null\n"
             "6: key=ok\n");
  }

  TEST_CASE("JSON lines accept CRLF, blank lines and a byte order mark")
  {
    const auto path = jsonl("\xEF\xBB\xBF{\"key\":\"a\"}\r\n\r\n   \n{\"key\":\"b\"}\r\n\n{\"key\":\"c\"}");
    const std::string expected = "1: key=a\n4: key=b\n6: key=c\n";
    CHECK(read_all(path, Format::jsonl) == expected);
    for (std::size_t chunk = 1; chunk <= 16; ++chunk) {
      CAPTURE(chunk);
      CHECK(read_all(path, Format::jsonl, chunks_of(chunk)) == expected);
    }
  }

  TEST_CASE("a JSON line longer than the limit is an error and reading goes on")
  {
    ReaderLimits limits;
    limits.chunk_bytes = 4;
    limits.max_record_bytes = 16;
    const auto path = jsonl("{\"key\":\"a\"}\n{\"key\":\"" + std::string(50, 'x') + "\"}\n{\"key\":\"c\"}\n");
    CHECK(read_all(path, Format::jsonl, limits) == "1: key=a\n2! line longer than 16 bytes\n3: key=c\n");
  }
}
