//! What a catalog write changed, told to every cache of catalog reads, on every instance.
//!
//! A shop sells all day: if every sale emptied every cache, the catalog would be as slow
//! as its uncached queries the moment it sells. So a change says what it touched:
//!
//! - [`Change::Everything`]: which products are listed may have moved (a product created,
//!   archived or moved to another category, a category edited, a bulk import, SQL by
//!   hand). Every cached answer goes.
//! - [`Change::Products`]: these products' shown fields changed, and listings may match
//!   or order them differently only in the [`Facets`] named (a price edit moves price
//!   filters and the price ordering; a variant selling out moves `in_stock` filters).
//!   A cached answer goes when it shows one of the products, or when it depends on a
//!   facet named and could hold them: same category, and a price range that holds one of
//!   the prices involved.
//!
//! A sale that does not sell a variant out changes nothing a cached answer shows (product
//! pages read stock live), so it is no change at all, and sends nothing.
//!
//! Changes arrive two ways. This instance's own writes apply theirs at once, after their
//! commit (read-your-writes: staff see their edit on the next request). Triggers on the
//! catalog tables send `NOTIFY catalog_changed` with the same information at commit
//! (migration `20261126000200_catalog_change_payloads`), and every instance's listener
//! applies it, so other instances' writes (and SQL by hand) reach every cache within
//! milliseconds. While the listener is not connected, notifications may be lost, so
//! nothing is cached.
//!
//! A generation counter, bumped by every change, lets a cache refuse to keep an answer
//! computed while a change happened (it may predate the change); see [`super::cache`].

use std::collections::VecDeque;
use std::str::FromStr;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex, RwLock};
use std::time::Duration;

use rust_decimal::Decimal;
use serde::Deserialize;
use sqlx::PgPool;
use sqlx::postgres::PgListener;
use uuid::Uuid;

/// The notification channel of the catalog triggers.
pub const CHANNEL: &str = "catalog_changed";

/// The facets of a listing a change to some products can move: which products match it,
/// in what order, and how many.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Deserialize)]
pub struct Facets {
    /// Price filters and the price ordering.
    #[serde(default)]
    pub price: bool,
    /// `in_stock` filters.
    #[serde(default)]
    pub stock: bool,
    /// Searches and the name ordering.
    #[serde(default)]
    pub text: bool,
}

impl Facets {
    pub const NONE: Facets = Facets {
        price: false,
        stock: false,
        text: false,
    };
    pub const PRICE: Facets = Facets {
        price: true,
        ..Facets::NONE
    };
    pub const STOCK: Facets = Facets {
        stock: true,
        ..Facets::NONE
    };
    pub const TEXT: Facets = Facets {
        text: true,
        ..Facets::NONE
    };
    pub const ALL: Facets = Facets {
        price: true,
        stock: true,
        text: true,
    };
}

/// One catalog change, as far as cached reads care.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Change {
    /// Anything may have changed.
    Everything,
    /// Some products changed what they show; listings may see them differently only in
    /// the facets named.
    Products(ProductsChanged),
}

/// Products whose shown fields changed (their listed-ness and category did not).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ProductsChanged {
    pub ids: Vec<Uuid>,
    /// Their categories (`None`: uncategorised).
    pub categories: Vec<Option<Uuid>>,
    /// The prices of the variants involved, before and after the change.
    pub prices: Vec<Decimal>,
    pub facets: Facets,
    /// How each price moved (before, after), when moving prices is all the change did (no
    /// variant added, removed, activated, deactivated or moved to another product): then a
    /// listing not ordered by price is affected only by a price that crosses the bounds of
    /// its range. `None`: unknown, and any price involved may matter.
    pub moves: Option<Vec<(Decimal, Decimal)>>,
}

impl Change {
    /// One product changed: `category` is its category, `prices` the variant prices
    /// involved (before and after).
    pub fn product(id: Uuid, category: Option<Uuid>, prices: Vec<Decimal>, facets: Facets) -> Self {
        Change::Products(ProductsChanged {
            ids: vec![id],
            categories: vec![category],
            prices,
            facets,
            moves: None,
        })
    }

    /// The same change, saying how its prices moved, when known (see
    /// [`ProductsChanged::moves`]).
    pub fn with_moves(self, moves: Option<Vec<(Decimal, Decimal)>>) -> Self {
        match self {
            Change::Everything => Change::Everything,
            Change::Products(c) => Change::Products(ProductsChanged { moves, ..c }),
        }
    }
}

/// A notification's payload (see the migration `catalog_change_payloads`): `''` or anything
/// unreadable is [`Change::Everything`], the safe reading.
impl FromStr for Change {
    type Err = std::convert::Infallible;

    fn from_str(payload: &str) -> Result<Self, Self::Err> {
        #[derive(Deserialize)]
        struct Payload {
            products: Vec<Uuid>,
            categories: Vec<Option<Uuid>>,
            prices: Vec<String>,
            #[serde(flatten)]
            facets: Facets,
            #[serde(default)]
            moves: Option<Vec<(String, String)>>,
        }
        let Ok(p) = serde_json::from_str::<Payload>(payload) else {
            return Ok(Change::Everything);
        };
        let Ok(prices) = p.prices.iter().map(|s| s.parse()).collect() else {
            return Ok(Change::Everything);
        };
        let moves = p.moves.map(|moves| {
            moves
                .iter()
                .map(|(before, after)| Ok((before.parse()?, after.parse()?)))
                .collect::<Result<Vec<_>, rust_decimal::Error>>()
        });
        let Ok(moves) = moves.transpose() else {
            return Ok(Change::Everything);
        };
        Ok(Change::Products(ProductsChanged {
            ids: p.products,
            categories: p.categories,
            prices,
            facets: p.facets,
            moves,
        }))
    }
}

/// What a cached answer depends on.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Dependencies {
    /// The products it shows.
    pub products: Vec<Uuid>,
    /// The facets its filters and ordering use.
    pub facets: Facets,
    /// The categories it is limited to (a category and its descendants); `None`: all.
    pub categories: Option<Vec<Uuid>>,
    /// Its variant price range, when it has one.
    pub price_range: Option<PriceRange>,
    /// Whether it is ordered by price: then a price moving within its range moves it too.
    pub ordered_by_price: bool,
}

/// A listing's variant price range: a price change outside it moves nothing in it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct PriceRange {
    pub low: Option<Decimal>,
    pub high: Option<Decimal>,
    /// Whether its stock condition is on the same variants (`in_stock=true`): then a stock
    /// change outside the range moves nothing in it either.
    pub holds_stock: bool,
}

impl PriceRange {
    fn holds(&self, prices: &[Decimal]) -> bool {
        prices.iter().any(|p| self.contains(*p))
    }

    fn contains(&self, price: Decimal) -> bool {
        self.low.is_none_or(|l| price >= l) && self.high.is_none_or(|h| price <= h)
    }

    /// Whether a price moved into or out of the range.
    fn crossed_by(&self, moves: &[(Decimal, Decimal)]) -> bool {
        moves
            .iter()
            .any(|(before, after)| self.contains(*before) != self.contains(*after))
    }
}

impl Dependencies {
    /// An answer about these products only (a product page).
    pub fn showing(products: Vec<Uuid>) -> Self {
        Self {
            products,
            ..Self::default()
        }
    }

    /// Whether `change` can make this answer wrong: it shows a changed product, or a
    /// changed product may enter, leave or move in it.
    pub fn affected_by(&self, change: &Change) -> bool {
        let c = match change {
            Change::Everything => return true,
            Change::Products(c) => c,
        };
        if c.ids.iter().any(|id| self.products.contains(id)) {
            return true;
        }
        if let Some(categories) = &self.categories
            && !c
                .categories
                .iter()
                .any(|cat| cat.is_some_and(|id| categories.contains(&id)))
        {
            return false;
        }
        let range = self.price_range;
        let text = c.facets.text && self.facets.text;
        let price = c.facets.price
            && self.facets.price
            && match (range, &c.moves) {
                (None, _) => true,
                // Which products the range holds, and how many, change only when a price
                // crosses its bounds; their order does when one moves within it.
                (Some(r), Some(moves)) if !self.ordered_by_price => r.crossed_by(moves),
                (Some(r), _) => r.holds(&c.prices),
            };
        let stock = c.facets.stock
            && self.facets.stock
            && range.is_none_or(|r| !r.holds_stock || r.holds(&c.prices));
        text || price || stock
    }
}

type Subscriber = Box<dyn Fn(&Change) + Send + Sync>;

/// The changes feed of one process: every cache of catalog reads subscribes to it.
#[derive(Default)]
pub struct CatalogChanges {
    generation: AtomicU64,
    /// The last changes with their generations, newest last (at most [`RECENT_CHANGES`]),
    /// so that an answer computed while changes happened is dropped only when one of them
    /// affects it.
    recent: Mutex<VecDeque<(u64, Change)>>,
    listening: AtomicBool,
    subscribers: RwLock<Vec<Subscriber>>,
}

/// How many changes [`CatalogChanges::affected_since`] can look back over. An answer takes
/// milliseconds to compute and a busy shop changes a few times a second (every change
/// arrives twice: applied by the writer, then heard over NOTIFY); past this many, an
/// answer is dropped as if affected.
pub(crate) const RECENT_CHANGES: usize = 256;

impl CatalogChanges {
    /// Calls `drop_affected` with every change from now on (and [`Change::Everything`]
    /// when the listener connects or drops).
    pub fn subscribe(&self, drop_affected: impl Fn(&Change) + Send + Sync + 'static) {
        self.subscribers
            .write()
            .expect("subscribers lock")
            .push(Box::new(drop_affected));
    }

    /// Read before computing an answer; see [`Self::affected_since`].
    pub fn generation(&self) -> u64 {
        self.generation.load(Ordering::SeqCst)
    }

    /// Whether a change applied since `generation` affects an answer depending on
    /// `depends_on`: an answer computed meanwhile may predate it, and must not be kept.
    /// Changes that do not affect it (another product sold out, say) leave it good: under
    /// load, when computations are slow and changes frequent, dropping every answer that
    /// overlapped any change meant computing the same pages again and again.
    pub fn affected_since(&self, generation: u64, depends_on: &Dependencies) -> bool {
        let recent = self.recent.lock().expect("recent changes lock");
        let now = self.generation.load(Ordering::SeqCst);
        if now == generation {
            return false;
        }
        // The log must reach back to the first change after `generation`.
        if recent
            .front()
            .is_none_or(|(first, _)| *first > generation + 1)
        {
            return true;
        }
        recent
            .iter()
            .filter(|(g, _)| *g > generation)
            .any(|(_, change)| depends_on.affected_by(change))
    }

    /// Whether caching is on: only while the listener is connected.
    pub fn is_listening(&self) -> bool {
        self.listening.load(Ordering::SeqCst)
    }

    /// Applies a change: first the generation (answers being computed are not kept), then
    /// every subscriber drops what the change affects.
    pub fn apply(&self, change: &Change) {
        {
            // The generation moves under the log's lock, so that `affected_since` sees
            // every change whose generation it sees.
            let mut recent = self.recent.lock().expect("recent changes lock");
            let generation = self.generation.fetch_add(1, Ordering::SeqCst) + 1;
            if recent.len() == RECENT_CHANGES {
                recent.pop_front();
            }
            recent.push_back((generation, change.clone()));
        }
        for drop_affected in self.subscribers.read().expect("subscribers lock").iter() {
            drop_affected(change);
        }
    }

    fn set_listening(&self, on: bool) {
        self.apply(&Change::Everything);
        self.listening.store(on, Ordering::SeqCst);
    }

    #[cfg(test)]
    pub(crate) fn set_listening_for_tests(&self, on: bool) {
        self.set_listening(on);
    }

    /// Listens for catalog changes for as long as the process runs, reconnecting after
    /// database outages (caching is off meanwhile). Without a running listener nothing is
    /// cached, which is also how `CATALOG_CACHE=off` works. `listen_url` is a direct
    /// (session) connection when the pool goes through a pooler in transaction mode.
    pub fn spawn_listener(
        self: &Arc<Self>,
        pool: PgPool,
        listen_url: Option<String>,
    ) -> tokio::task::JoinHandle<()> {
        let changes = Arc::clone(self);
        tokio::spawn(async move {
            loop {
                match listen(&pool, listen_url.as_deref()).await {
                    Ok(mut listener) => {
                        changes.set_listening(true);
                        // Ok(None): the connection dropped; notifications may be lost.
                        while let Ok(Some(n)) = listener.try_recv().await {
                            let Ok(change) = n.payload().parse::<Change>();
                            changes.apply(&change);
                        }
                        changes.set_listening(false);
                        tracing::warn!(
                            "catalog change listener disconnected; cache off until it is back"
                        );
                    }
                    Err(e) => {
                        changes.set_listening(false);
                        tracing::debug!(error = %e, "catalog change listener cannot connect");
                    }
                }
                tokio::time::sleep(Duration::from_secs(1)).await;
            }
        })
    }
}

async fn listen(pool: &PgPool, url: Option<&str>) -> Result<PgListener, sqlx::Error> {
    let mut listener = match url {
        Some(url) => PgListener::connect(url).await?,
        None => PgListener::connect_with(pool).await?,
    };
    listener.listen(CHANNEL).await?;
    Ok(listener)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn id(n: u128) -> Uuid {
        Uuid::from_u128(n)
    }

    fn price(s: &str) -> Decimal {
        s.parse().unwrap()
    }

    fn change(facets: Facets, category: Option<Uuid>, prices: &[&str]) -> Change {
        Change::product(
            id(1),
            category,
            prices.iter().map(|p| price(p)).collect(),
            facets,
        )
    }

    #[test]
    fn payloads_parse_and_anything_unreadable_is_everything() {
        let payload = r#"{"products": ["00000000-0000-0000-0000-000000000001"], "categories": [null],
            "prices": ["12.50"], "price": true, "stock": false, "text": false}"#;
        assert_eq!(
            payload.parse::<Change>().unwrap(),
            change(Facets::PRICE, None, &["12.50"])
        );
        for unreadable in [
            "",
            "{}",
            "x",
            r#"{"products": ["nope"], "categories": [], "prices": []}"#,
            r#"{"products": [], "categories": [], "prices": ["twelve"]}"#,
        ] {
            assert_eq!(
                unreadable.parse::<Change>().unwrap(),
                Change::Everything,
                "{unreadable}"
            );
        }
    }

    #[test]
    fn everything_affects_every_answer() {
        assert!(Dependencies::default().affected_by(&Change::Everything));
        assert!(Dependencies::showing(vec![id(9)]).affected_by(&Change::Everything));
    }

    #[test]
    fn an_answer_showing_a_changed_product_is_affected_whatever_the_facets() {
        let page = Dependencies::showing(vec![id(7), id(1)]);
        assert!(page.affected_by(&change(Facets::NONE, None, &[])));
        assert!(!Dependencies::showing(vec![id(7)]).affected_by(&change(Facets::ALL, None, &[])));
    }

    #[test]
    fn a_facet_affects_only_answers_that_use_it() {
        for (changed, used, affected) in [
            (Facets::PRICE, Facets::PRICE, true),
            (Facets::PRICE, Facets::STOCK, false),
            (Facets::PRICE, Facets::TEXT, false),
            (Facets::STOCK, Facets::STOCK, true),
            (Facets::STOCK, Facets::TEXT, false),
            (Facets::TEXT, Facets::TEXT, true),
            (Facets::TEXT, Facets::PRICE, false),
            (Facets::ALL, Facets::TEXT, true),
            (Facets::NONE, Facets::ALL, false),
        ] {
            let deps = Dependencies {
                facets: used,
                ..Dependencies::default()
            };
            assert_eq!(
                deps.affected_by(&change(changed, Some(id(5)), &["1.00"])),
                affected,
                "{changed:?} on an answer using {used:?}"
            );
        }
    }

    #[test]
    fn a_listing_of_other_categories_is_not_affected() {
        let deps = Dependencies {
            facets: Facets::ALL,
            categories: Some(vec![id(5), id(6)]),
            ..Dependencies::default()
        };
        assert!(deps.affected_by(&change(Facets::PRICE, Some(id(6)), &["1.00"])));
        assert!(!deps.affected_by(&change(Facets::PRICE, Some(id(8)), &["1.00"])));
        assert!(!deps.affected_by(&change(Facets::PRICE, None, &["1.00"])));
    }

    #[test]
    fn payloads_say_how_prices_moved_when_that_is_all_that_changed() {
        let with = |moves: &str| {
            format!(
                r#"{{"products": ["00000000-0000-0000-0000-000000000001"], "categories": [null],
                "prices": ["12.50", "12.51"], "price": true, "stock": false, "text": false,
                "moves": {moves}}}"#
            )
        };
        let moved = change(Facets::PRICE, None, &["12.50", "12.51"]);
        assert_eq!(
            with(r#"[["12.50", "12.51"]]"#).parse::<Change>().unwrap(),
            moved
                .clone()
                .with_moves(Some(vec![(price("12.50"), price("12.51"))]))
        );
        // null: the change did more than move prices.
        assert_eq!(with("null").parse::<Change>().unwrap(), moved);
        assert_eq!(
            with(r#"[["12.50", "lots"]]"#).parse::<Change>().unwrap(),
            Change::Everything
        );
    }

    #[test]
    fn a_price_moving_within_a_range_moves_only_listings_ordered_by_price() {
        let range = |ordered_by_price| Dependencies {
            facets: Facets::PRICE,
            price_range: Some(PriceRange {
                low: Some(price("10.00")),
                high: Some(price("20.00")),
                holds_stock: false,
            }),
            ordered_by_price,
            ..Dependencies::default()
        };
        let (count, by_price) = (range(false), range(true));
        let moved = |from: &str, to: &str| {
            change(Facets::PRICE, None, &[from, to])
                .with_moves(Some(vec![(price(from), price(to))]))
        };
        // Within the range: the same products, as many, in another order.
        assert!(!count.affected_by(&moved("12.00", "12.01")));
        assert!(by_price.affected_by(&moved("12.00", "12.01")));
        // Into it, out of it, and onto a bound from outside.
        for (from, to) in [("9.99", "10.00"), ("20.00", "20.01"), ("25.00", "15.00")] {
            assert!(count.affected_by(&moved(from, to)), "{from} -> {to}");
            assert!(by_price.affected_by(&moved(from, to)), "{from} -> {to}");
        }
        // Outside it altogether.
        assert!(!count.affected_by(&moved("30.00", "31.00")));
        assert!(!by_price.affected_by(&moved("30.00", "31.00")));
        // Not known to be only moves: any price inside counts.
        assert!(count.affected_by(&change(Facets::PRICE, None, &["12.00", "12.01"])));
    }

    #[test]
    fn a_price_range_is_affected_by_prices_inside_it_only() {
        let deps = Dependencies {
            facets: Facets {
                price: true,
                stock: true,
                text: false,
            },
            price_range: Some(PriceRange {
                low: Some(price("10.00")),
                high: Some(price("20.00")),
                holds_stock: true,
            }),
            ..Dependencies::default()
        };
        // Bounds are inclusive, as the filter is.
        for (prices, affected) in [
            (&["10.00"][..], true),
            (&["20.00"], true),
            (&["9.99", "20.01"], false),
            (&["5.00", "15.00"], true),
            (&[], false),
        ] {
            assert_eq!(
                deps.affected_by(&change(Facets::PRICE, None, prices)),
                affected,
                "{prices:?}"
            );
            assert_eq!(
                deps.affected_by(&change(Facets::STOCK, None, prices)),
                affected,
                "{prices:?}"
            );
        }
        let open = Dependencies {
            price_range: Some(PriceRange {
                low: None,
                high: Some(price("20.00")),
                holds_stock: true,
            }),
            ..deps.clone()
        };
        assert!(open.affected_by(&change(Facets::PRICE, None, &["0.50"])));
        // `in_stock=false` asks about every variant's stock, in the range or not.
        let out_of_stock = Dependencies {
            price_range: Some(PriceRange {
                holds_stock: false,
                ..deps.price_range.unwrap()
            }),
            ..deps.clone()
        };
        assert!(out_of_stock.affected_by(&change(Facets::STOCK, None, &["30.00"])));
        assert!(!out_of_stock.affected_by(&change(Facets::PRICE, None, &["30.00"])));
        // A search in that range is moved by a text change whatever the prices.
        let search = Dependencies {
            facets: Facets::ALL,
            ..deps
        };
        assert!(search.affected_by(&change(Facets::TEXT, None, &[])));
    }
}
