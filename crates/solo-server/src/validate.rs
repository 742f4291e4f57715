//! Checks of free-text input fields shared by the API's routes.

use crate::error::{ApiError, ApiResult};

/// Checks a free-text field: trimmed, non-empty, at most `max` characters.
pub fn text_field(name: &str, value: &str, max: usize) -> ApiResult<String> {
    // The limit applies to what was sent, as the OpenAPI `maxLength` says.
    if value.chars().count() > max {
        return Err(ApiError::validation(format!("`{name}` must be at most {max} characters")));
    }
    if value.chars().all(is_blank) {
        return Err(ApiError::validation(format!("`{name}` must not be blank")));
    }
    Ok(value.trim_matches(is_blank).to_owned())
}

/// Whitespace, and the four ASCII information separators (U+001C to U+001F),
/// which invisible as they are count as space for most text tools (and for
/// the `\S` pattern the OpenAPI document gives text fields).
pub fn is_blank(c: char) -> bool {
    c.is_whitespace() || ('\u{1c}'..='\u{1f}').contains(&c)
}
