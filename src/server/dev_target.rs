//! Where the developer API writes: the embedded store itself, or the real
//! DynamoDB tables through the writer (so the monitor reads them back as it
//! reads the upstream pipeline's writes).

use std::sync::Arc;

use super::store::dynamo::writer::DynamoWriter;
use super::store::dynamo::DynamoStore;
use super::store::memory::MemoryStore;
use super::store::{CallSink, StoreError};

/// Where the developer API writes.
#[derive(Clone)]
pub enum DevTarget {
    Memory(Arc<MemoryStore>),
    Dynamo(Arc<DynamoWriter>, Arc<DynamoStore>),
}

impl DevTarget {
    pub fn sink(&self) -> &dyn CallSink {
        match self {
            DevTarget::Memory(m) => m.as_ref(),
            DevTarget::Dynamo(d, _) => d.as_ref(),
        }
    }

    pub async fn reset(&self) -> Result<(), StoreError> {
        match self {
            DevTarget::Memory(m) => {
                m.clear();
                Ok(())
            }
            DevTarget::Dynamo(d, store) => {
                d.clear().await?;
                store.forget_all().await;
                Ok(())
            }
        }
    }
}
