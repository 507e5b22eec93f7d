// Start-up latency of the CLI (issue: foundation): --version and --help under 150 ms.
import { figure, nodeFloor, timeOuzo } from "./util.js";

figure("ouzo --version (whole process, median of 9)", timeOuzo(["--version"], 9).ms.toFixed(1), "ms", "< 150 ms");
figure("ouzo --help (whole process, median of 9)", timeOuzo(["--help"], 9).ms.toFixed(1), "ms", "< 150 ms");
figure("for comparison: node -e 0 (median of 9)", nodeFloor().toFixed(1), "ms");
