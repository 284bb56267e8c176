// Checks goformer's tokenizer.json files with Hugging Face's own JavaScript
// tokenizers (npm install @huggingface/tokenizers): the same ids for the
// same text, and decoding back to it.
//
// Usage: node scripts/reference/tokenizer_json_js.mjs DIR TEXTFILE
// (run where @huggingface/tokenizers is installed) where DIR holds
// tokenizer.json and tokenizer_config.json, and
// `goformer tokenizer encode --model DIR --json < TEXTFILE > DIR/goformer-ids.json`
// has been run.
import { existsSync, readFileSync } from "node:fs";
import { Tokenizer } from "@huggingface/tokenizers";

const [dir, textFile] = process.argv.slice(2);
const tj = JSON.parse(readFileSync(`${dir}/tokenizer.json`, "utf8"));
const cfgPath = `${dir}/tokenizer_config.json`;
const cfg = existsSync(cfgPath) ? JSON.parse(readFileSync(cfgPath, "utf8")) : {};
const tok = new Tokenizer(tj, cfg);
const text = readFileSync(textFile, "utf8");
const ids = tok.encode(text, { add_special_tokens: false }).ids;
const ours = JSON.parse(readFileSync(`${dir}/goformer-ids.json`, "utf8"));
const same = ids.length === ours.length && ids.every((v, i) => v === ours[i]);
const back = tok.decode(ids, { clean_up_tokenization_spaces: cfg.clean_up_tokenization_spaces ?? true });
console.log(JSON.stringify({ tokens: ids.length, same_ids: same, round_trip: back === text }));
if (!same || back !== text) process.exit(1);
