// `attnscope induction` on induction-2l (../shared/models/trained/README.md): from the GGUF and
// from the safetensors directory (with the GGUF's vocabulary as --tokenizer), the README's stimulus
// (BOS + 50 random pieces twice, 10 seeds) at the command's default threshold (0.3) reports the
// independent analysis's one induction head, L1H2.
#include <gtest/gtest.h>

#include <nlohmann/json.hpp>
#include <string>

#include "common/cli_runner.h"
#include "common/test_files.h"

TEST(CliTrainedInduction, FindsL1H2FromBothFiles) {
  const std::string gguf = attnscope::test::model_path("trained/induction-2l/model.gguf");
  for (const std::string& model :
       {gguf, attnscope::test::model_path("trained/induction-2l") + " --tokenizer " + gguf}) {
    SCOPED_TRACE(model);
    const nlohmann::json j = test_cli::run_cli_json("induction -m " + model + " --seeds 10");
    ASSERT_EQ(j.at("induction_heads").size(), 1u) << j.dump();
    EXPECT_EQ(j["induction_heads"][0]["layer"], 1);
    EXPECT_EQ(j["induction_heads"][0]["head"], 2);
  }
}
