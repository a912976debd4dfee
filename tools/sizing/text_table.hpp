// A table of text cells printed as aligned plain text or as a GitHub
// markdown table. It owns the rule that every row has one cell per column
// (missing cells print empty, extra cells are dropped), so a report can
// never shift its columns. Pure, thread-safe.
#pragma once

#include <string>
#include <vector>

#include "args.hpp"

namespace sandpool::sizing {

enum class align {
  left,   // text
  right,  // numbers
};

struct text_table {
  std::vector<std::string> headers;
  std::vector<align> aligns;  // per column; missing entries are left
  std::vector<std::vector<std::string>> rows;
};

// Plain: columns padded to their widest cell (counted in UTF-8 characters),
// two spaces apart, a line of dashes under the header. Markdown: pipes,
// `---:` for right-aligned columns, `|` in cells escaped. Ends with '\n'.
[[nodiscard]] std::string render(const text_table& t, output_format f);

}  // namespace sandpool::sizing
