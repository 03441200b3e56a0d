/** The agent's version, sent in enrollment and polls and recorded in lifecycle evidence. */
export const AGENT_VERSION = "0.1.0";
