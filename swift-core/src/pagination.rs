//! Page requests and paginated results, shaped as docs/API.md's list envelope.

use crate::validation::Invalid;

/// A validated page request: page ≥ 1, 1 ≤ page_size ≤ 100.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct PageRequest {
    page: u32,
    page_size: u32,
}

/// Largest page a client may ask for.
pub const MAX_PAGE_SIZE: u32 = 100;

impl PageRequest {
    pub fn new(page: u32, page_size: u32) -> Result<Self, Invalid> {
        if page < 1 {
            return Err(Invalid::new("page", "must be at least 1"));
        }
        if !(1..=MAX_PAGE_SIZE).contains(&page_size) {
            return Err(Invalid::new("page_size", "must be between 1 and 100"));
        }
        Ok(Self { page, page_size })
    }

    pub fn page(&self) -> u32 {
        self.page
    }

    pub fn page_size(&self) -> u32 {
        self.page_size
    }

    /// SQL `LIMIT`.
    pub fn limit(&self) -> i64 {
        i64::from(self.page_size)
    }

    /// SQL `OFFSET`.
    pub fn offset(&self) -> i64 {
        i64::from(self.page - 1) * i64::from(self.page_size)
    }

    /// SQL `LIMIT` for a listing that shows only its first `window` results: the rest of
    /// the window from this page's offset, at most a page; 0 for a page past the window.
    pub fn limit_within(&self, window: i64) -> i64 {
        (window - self.offset()).clamp(0, self.limit())
    }
}

/// One page of results with the numbers a pager needs.
#[derive(Debug, Clone)]
pub struct Page<T> {
    pub items: Vec<T>,
    /// The number of results; with `total_exact` false, a lower bound (see [`Page::windowed`]).
    pub total: i64,
    pub total_exact: bool,
    pub page: u32,
    pub page_size: u32,
    pub pages: u32,
}

impl<T> Page<T> {
    pub fn new(items: Vec<T>, total: i64, request: PageRequest) -> Self {
        let size = i64::from(request.page_size);
        let pages = ((total + size - 1) / size).max(0) as u32;
        Self {
            items,
            total,
            total_exact: true,
            page: request.page,
            page_size: request.page_size,
            pages,
        }
    }

    /// A page of a listing that counts and shows only its first `window` results (the
    /// storefront's product listings): `counted` is the count taken up to `window + 1`.
    /// Past the window, `total` is `window` and `total_exact` is false: "1,000+".
    pub fn windowed(items: Vec<T>, counted: i64, window: i64, request: PageRequest) -> Self {
        let mut page = Self::new(items, counted.min(window), request);
        page.total_exact = counted <= window;
        page
    }

    pub fn map<U>(self, f: impl FnMut(T) -> U) -> Page<U> {
        Page {
            items: self.items.into_iter().map(f).collect(),
            total: self.total,
            total_exact: self.total_exact,
            page: self.page,
            page_size: self.page_size,
            pages: self.pages,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bounds_are_enforced() {
        assert!(PageRequest::new(0, 20).is_err());
        assert!(PageRequest::new(1, 0).is_err());
        assert!(PageRequest::new(1, 101).is_err());
        let p = PageRequest::new(3, 20).unwrap();
        assert_eq!((p.limit(), p.offset()), (20, 40));
    }

    #[test]
    fn pages_round_up() {
        let p = PageRequest::new(1, 20).unwrap();
        assert_eq!(Page::<()>::new(vec![], 123, p).pages, 7);
        assert_eq!(Page::<()>::new(vec![], 0, p).pages, 0);
        assert_eq!(Page::<()>::new(vec![], 20, p).pages, 1);
    }

    #[test]
    fn a_window_cuts_the_last_page_and_empties_those_past_it() {
        let limit = |page, size| PageRequest::new(page, size).unwrap().limit_within(1000);
        assert_eq!(limit(1, 20), 20);
        assert_eq!(limit(50, 20), 20);
        assert_eq!(limit(51, 20), 0);
        assert_eq!(limit(34, 30), 10);
        assert_eq!(limit(35, 30), 0);
        assert_eq!(limit(u32::MAX, 100), 0);
    }

    #[test]
    fn a_windowed_total_is_exact_up_to_the_window() {
        let p = PageRequest::new(1, 30).unwrap();
        let exact = Page::<()>::windowed(vec![], 1000, 1000, p);
        assert_eq!(
            (exact.total, exact.total_exact, exact.pages),
            (1000, true, 34)
        );
        let more = Page::<()>::windowed(vec![], 1001, 1000, p);
        assert_eq!(
            (more.total, more.total_exact, more.pages),
            (1000, false, 34)
        );
        let few = Page::<()>::windowed(vec![], 7, 1000, p);
        assert_eq!((few.total, few.total_exact, few.pages), (7, true, 1));
    }
}
