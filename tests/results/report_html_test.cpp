// The HTML fragment of a report table: its caption sits above the table as a <figcaption>, not
// inside it as a <caption> (which is only as wide as the table: a one-column Table 2 squeezed a
// six-line caption into a column a few words wide in the HTML report).
#include <gtest/gtest.h>

#include "results/report_table.h"

namespace gpas::results {
namespace {

TEST(ReportHtml, CaptionAboveTheTableNotInsideIt) {
  ReportTable t;
  t.title = "Table 2";
  t.caption = "Final eval/ppl by method & size.";
  t.header = {"Method", "tiny"};
  t.rows = {{{"Pre-LN"}, {"213.12"}}};
  t.notes = {"a note"};
  std::string h = render(t, "html");
  EXPECT_EQ(h.find("<caption>"), std::string::npos) << h;
  size_t cap = h.find("<figcaption><b>Table 2.</b> Final eval/ppl by method &amp; size.</figcaption>");
  size_t table = h.find("<table class=\"gpas\">");
  ASSERT_NE(cap, std::string::npos) << h;
  ASSERT_NE(table, std::string::npos) << h;
  EXPECT_LT(cap, table);
  EXPECT_EQ(h.rfind("<figure class=\"table\">", cap), 0u) << h;
  EXPECT_NE(h.find("</ul>\n</figure>\n"), std::string::npos) << "the notes belong to the table's figure: " << h;
}

}  // namespace
}  // namespace gpas::results
