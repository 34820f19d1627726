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
}

/// One page of results with the numbers a pager needs.
#[derive(Debug, Clone)]
pub struct Page<T> {
    pub items: Vec<T>,
    pub total: i64,
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
            page: request.page,
            page_size: request.page_size,
            pages,
        }
    }

    pub fn map<U>(self, f: impl FnMut(T) -> U) -> Page<U> {
        Page {
            items: self.items.into_iter().map(f).collect(),
            total: self.total,
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
}
