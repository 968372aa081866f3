/**
 * The reference package's own test suite at 0.2.0, run unchanged with pytest against our server
 * (tests/reference/suite.ts says how).
 *
 * @module
 */
import { referenceSuiteTest } from "./reference/suite.ts";

referenceSuiteTest("0.2.0");
