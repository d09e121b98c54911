// The simulated ISP (issue 4) lives in this module.
