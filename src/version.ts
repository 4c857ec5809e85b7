/** The version this server reports (`GET /api/v1/meta/version`, `--version`, exports). */
export const VERSION = '0.3.0';
