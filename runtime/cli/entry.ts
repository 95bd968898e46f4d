/** Process entry of the `glimmer` CLI (kept apart from main() so tests call main() in-process). */
import { main } from './main';

main(process.argv.slice(2)).then(
  (code) => {
    process.exitCode = code;
  },
  () => {
    process.exitCode = 2;
  },
);
