// Start-up latency of the CLI (issue: foundation): --version and --help under 150 ms.
import { figure, timeOuzoAndNode } from "./util.js";

const version = timeOuzoAndNode(["--version"], 21);
const help = timeOuzoAndNode(["--help"], 21);
figure("ouzo --version (whole process, median of 21)", version.ms.toFixed(1), "ms", "< 150 ms");
figure("ouzo --help (whole process, median of 21)", help.ms.toFixed(1), "ms", "< 150 ms");
figure("for comparison: node -e 0 (median of 21, alternating)", help.floor.toFixed(1), "ms");
